open("Rigelfile","wb").write(b"vars:\n  x: a\x00b\n")
