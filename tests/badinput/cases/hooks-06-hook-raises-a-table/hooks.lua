return {before_apply = function() error({code = 1}) end}
