import random
r = random.Random(3)
open("kubeconfig","wb").write(bytes(r.randrange(256) for _ in range(2048)))
