return {before_apply = function() while true do end end}
