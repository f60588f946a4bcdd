"""kubeemu: a Kubernetes API server emulator (Python standard library only)."""
