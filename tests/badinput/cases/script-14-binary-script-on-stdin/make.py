import random
r = random.Random(11)
open("junk.bin","wb").write(b"\x1bLua" + bytes(r.randrange(256) for _ in range(512)))
