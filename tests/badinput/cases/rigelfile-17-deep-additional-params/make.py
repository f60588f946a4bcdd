d = "{x: 1}"
for i in range(900):
    d = "{a: %s}" % d
open("Rigelfile","w").write("jobs:\n  deploy_k8s:\n    plugin: src.plugin.OrchestrationPlugin\n    with:\n      orchestration:\n        namespace: demo\n        deploy_ros_master: true\n        additional_k8s_params:\n          application: {spec: " + d + "}\n")
