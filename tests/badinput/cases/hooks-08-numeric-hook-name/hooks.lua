return {function() end}
