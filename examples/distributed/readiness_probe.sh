#!/bin/bash
# Readiness probe (readiness.command in the Rigelfile). Ready when:
#  - every node in $READINESS_NODES answers `rosnode ping` through the ROS master, and
#  - when $READINESS_HEARTBEAT is set, that file was touched in the last
#    $READINESS_MAX_AGE seconds (default 15): the nodes touch it when data arrives.
# Prints why it is not ready: `kubectl describe pod` shows it in the probe's events.
source "/opt/ros/${ROS_DISTRO}/setup.bash"
for node in ${READINESS_NODES:-}; do
  if ! timeout 5 rosnode ping -c 1 "${node}" >/dev/null 2>&1; then
    echo "not ready: node ${node} does not answer (ROS_MASTER_URI=${ROS_MASTER_URI:-unset})"
    exit 1
  fi
done
if [ -n "${READINESS_HEARTBEAT:-}" ]; then
  if [ ! -f "${READINESS_HEARTBEAT}" ]; then
    echo "not ready: no data received yet (${READINESS_HEARTBEAT} does not exist)"
    exit 1
  fi
  age=$(( $(date +%s) - $(stat -c %Y "${READINESS_HEARTBEAT}") ))
  if [ "${age}" -gt "${READINESS_MAX_AGE:-15}" ]; then
    echo "not ready: no data for ${age}s (${READINESS_HEARTBEAT})"
    exit 1
  fi
fi
exit 0
