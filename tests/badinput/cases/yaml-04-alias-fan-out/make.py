open("Rigelfile","w").write("vars:\n  a: &a [" + ",".join(["x"]*2000) + "]\n  b: [" + ",".join(["*a"]*1000) + "]\n")
