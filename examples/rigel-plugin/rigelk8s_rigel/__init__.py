"""Rigel plugin shim for rigelk8s: `plugin: "rigelk8s_rigel.OrchestrationPlugin"` deploys,
`plugin: "rigelk8s_rigel.LuaPlugin"` (or the stock "rigelk8s.lua") runs a Lua job."""
from .plugin import LuaPlugin, OrchestrationPlugin, RigelK8sError

__all__ = ["LuaPlugin", "OrchestrationPlugin", "RigelK8sError"]
