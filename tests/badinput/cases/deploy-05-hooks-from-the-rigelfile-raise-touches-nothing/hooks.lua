return {before_apply = function() error("frozen") end}
