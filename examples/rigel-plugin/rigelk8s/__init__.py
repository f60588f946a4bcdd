"""Lets Rigel load the stock `plugin: "rigelk8s.lua"` jobs.

Rigel loads a plugin named "a.b" as attribute b of Python module a, so "rigelk8s.lua"
is rigelk8s.lua below: the shim's LuaPlugin. `plugin: "rigelk8s"` alone (no dot) cannot
be loaded by Rigel: use "rigelk8s_rigel.OrchestrationPlugin" there, which rigelk8s
itself runs natively too."""
from rigelk8s_rigel import LuaPlugin as lua  # noqa: N813  (the name Rigelfiles use)
from rigelk8s_rigel import LuaPlugin, RigelK8sError

__all__ = ["lua", "LuaPlugin", "RigelK8sError"]
