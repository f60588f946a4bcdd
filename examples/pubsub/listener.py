#!/usr/bin/env python3
"""The listener of the pubsub sample: logs what arrives on /chatter.

Every message also touches the heartbeat file ($READINESS_HEARTBEAT), which
readiness_probe.sh checks: the pod is Ready only while messages really flow from
the talker, through the ROS master, to this node.
"""
import os

import rospy
from std_msgs.msg import String

HEARTBEAT = os.environ.get("READINESS_HEARTBEAT", "/tmp/heard")


def on_message(msg):
    rospy.loginfo("heard: %s", msg.data)
    with open(HEARTBEAT, "a"):
        os.utime(HEARTBEAT, None)


def main():
    rospy.init_node("listener")
    rospy.Subscriber("chatter", String, on_message)
    rospy.spin()


if __name__ == "__main__":
    main()
