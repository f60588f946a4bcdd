error("cannot load the hooks")
