#!/usr/bin/env python3
"""The talker of the ROS 2 pubsub sample: publishes a counter on /chatter (rclpy)."""
import rclpy
from rclpy.node import Node
from std_msgs.msg import String


class Talker(Node):
    def __init__(self):
        super().__init__("talker")
        self.publisher = self.create_publisher(String, "chatter", 10)
        self.count = 0
        period = self.declare_parameter("period_s", 1.0).value
        self.timer = self.create_timer(period, self.tick)

    def tick(self):
        msg = String(data="hello from rigelk8s %d" % self.count)
        self.publisher.publish(msg)
        self.get_logger().info("published: %s" % msg.data)
        self.count += 1


def main():
    rclpy.init()
    node = Talker()
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
