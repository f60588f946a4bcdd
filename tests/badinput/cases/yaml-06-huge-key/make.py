open("Rigelfile","w").write("jobs:\n  deploy_k8s:\n    plugin: src.plugin.OrchestrationPlugin\n    with:\n      orchestration:\n        namespace: demo\n        " + "k"*(1024*1024) + ": 1\n")
