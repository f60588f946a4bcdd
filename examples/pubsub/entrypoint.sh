#!/bin/bash
# Container entry point: sets up the ROS environment, then starts the image's nodes
# ($ROS_NODES, Python scripts in /opt/app), each as its own process. When one of them
# exits the container exits too, so that Kubernetes restarts it. Given arguments, it runs
# those instead (e.g. `docker run --rm -it IMAGE rostopic echo /chatter`).
#
# rigelk8s sets ROS_MASTER_URI (the ros-master Service) and ROS_IP (the pod's IP) on
# every ROS container; with plain docker, pass them with -e.
set -eo pipefail
source "/opt/ros/${ROS_DISTRO}/setup.bash"
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
pids=()
for node in ${ROS_NODES:?set ROS_NODES to the node scripts to run}; do
  python3 "/opt/app/${node}" &
  pids+=("$!")
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
set +e
wait -n
status=$?
kill -TERM "${pids[@]}" 2>/dev/null
wait
exit "$status"
