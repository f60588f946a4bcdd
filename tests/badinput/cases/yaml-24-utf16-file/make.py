open("Rigelfile","wb").write("jobs: {}\n".encode("utf-16"))
