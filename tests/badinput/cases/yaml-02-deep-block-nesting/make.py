open("Rigelfile","w").write("".join("  "*i + "k%d:\n" % i for i in range(3000)) + "  "*3000 + "v\n")
