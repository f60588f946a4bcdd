return {after_aply = function() end}
