-- rigelk8s __man (internal): the man page rigelk8s(1) in roff, from the tables behind
-- --help. The build runs it (cmake/docs.cmake) and installs the result.
io.stdout:write(require("rigelk8s.docs").man())
return 0
