open("Rigelfile","wb").write(b"vars:\n  x: \xff\xfe\xc3\x28\n")
