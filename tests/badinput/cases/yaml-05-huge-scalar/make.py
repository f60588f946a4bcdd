open("Rigelfile","w").write("jobs:\n  deploy_k8s:\n    plugin: src.plugin.OrchestrationPlugin\n    with:\n      orchestration:\n        namespace: " + "a"*(30*1024*1024) + "\n")
