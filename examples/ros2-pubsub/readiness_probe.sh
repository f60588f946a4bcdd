#!/bin/bash
# Readiness probe for the ROS 2 sample (readiness.command in the Rigelfile). Ready when
# every node script in $ROS_NODES is running and $READINESS_HEARTBEAT was touched in the
# last $READINESS_MAX_AGE seconds (default 15): the listener touches it on every message.
# (`ros2 node list` is not used: with a discovery server the CLI needs a super-client
# setup, and a running node that hears nothing is not ready anyway.)
for node in ${ROS_NODES:-}; do
  if ! pgrep -f "/opt/app/${node}" >/dev/null; then
    echo "not ready: ${node} is not running"
    exit 1
  fi
done
if [ ! -f "${READINESS_HEARTBEAT:-/tmp/heard}" ]; then
  echo "not ready: no message received yet"
  exit 1
fi
age=$(( $(date +%s) - $(stat -c %Y "${READINESS_HEARTBEAT:-/tmp/heard}") ))
if [ "${age}" -gt "${READINESS_MAX_AGE:-15}" ]; then
  echo "not ready: no message for ${age}s"
  exit 1
fi
exit 0
