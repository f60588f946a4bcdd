#!/usr/bin/env python3
"""The listener of the ROS 2 pubsub sample: logs what arrives on /chatter.

Every message touches the heartbeat file ($READINESS_HEARTBEAT) that readiness_probe.sh
checks, so the pod is Ready only while messages flow through DDS discovery.
"""
import os

import rclpy
from rclpy.node import Node
from std_msgs.msg import String

HEARTBEAT = os.environ.get("READINESS_HEARTBEAT", "/tmp/heard")


class Listener(Node):
    def __init__(self):
        super().__init__("listener")
        self.subscription = self.create_subscription(String, "chatter", self.on_message, 10)

    def on_message(self, msg):
        self.get_logger().info("heard: %s" % msg.data)
        with open(HEARTBEAT, "a"):
            os.utime(HEARTBEAT, None)


def main():
    rclpy.init()
    node = Listener()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
