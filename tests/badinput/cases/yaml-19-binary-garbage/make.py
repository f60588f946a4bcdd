import random
r = random.Random(7)
open("Rigelfile","wb").write(bytes(r.randrange(256) for _ in range(4096)))
