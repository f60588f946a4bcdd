"""Stand-in for rigel.exceptions: Rigel's RigelError (rigel/exceptions.py), which keeps
its message as .base and is what `rigel run` catches to print "ERROR - ..." and exit 1."""


class RigelError(Exception):
    def __init__(self, base="Generic Rigel error."):
        self.base = base

    def __str__(self):
        return self.base
