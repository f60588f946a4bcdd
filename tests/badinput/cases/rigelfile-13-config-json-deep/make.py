open("config.json","w").write("[" * 100000 + "]" * 100000)
