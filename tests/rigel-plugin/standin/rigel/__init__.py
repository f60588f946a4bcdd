"""A STAND-IN for the `rigel` package, used by test_plugin.py only when Rigel itself is
not installed. It provides just what the rigelk8s plugin shim imports (Plugin and
RigelError); the tests that need Rigel's real loader and CLI are skipped then."""
STANDIN = True
