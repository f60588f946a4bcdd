return {before_apply = function() os.exit(5) end}
