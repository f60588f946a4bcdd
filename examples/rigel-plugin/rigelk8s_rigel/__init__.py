"""Rigel plugin shim for rigelk8s: `plugin: "rigelk8s_rigel.OrchestrationPlugin"`."""
from .plugin import OrchestrationPlugin, RigelK8sError

__all__ = ["OrchestrationPlugin", "RigelK8sError"]
