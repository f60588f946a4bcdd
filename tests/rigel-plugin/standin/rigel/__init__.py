"""A stand-in for the `rigel` package, used by test_plugin.py only when Rigel itself is
not installed. It provides just what the rigelk8s plugin shim imports."""
