open("Rigelfile","w").write("vars:\n  a: " + "["*5000 + "]"*5000 + "\n")
