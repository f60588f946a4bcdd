open("Rigelfile","w").write("vars:\n  a: [" + ",".join(str(i) for i in range(300000)) + "]\n")
