return {before_apply = function(ctx, objects) error("no deploys on Fridays") end}
