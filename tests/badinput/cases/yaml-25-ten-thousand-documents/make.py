open("Rigelfile","w").write("---\na: 1\n" * 10000)
