return {before_apply = function() end
