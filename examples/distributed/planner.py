#!/usr/bin/env python3
"""The planner of the distributed sample: runs on remote (cloud) nodes (placement:
remote). It reads /scan from the driver and commands /cmd_vel: full speed ahead while the
way is clear, slowing down towards an obstacle, stopping before it. Every scan it plans
from touches the heartbeat file ($READINESS_HEARTBEAT): the planner is Ready only while
the robot's data reaches it across nodes."""
import os

import rospy
from geometry_msgs.msg import Twist
from sensor_msgs.msg import LaserScan

HEARTBEAT = os.environ.get("READINESS_HEARTBEAT", "/tmp/heard")


class Planner:
    def __init__(self):
        self.max_speed = rospy.get_param("~max_speed", 0.5)
        self.stop_distance = rospy.get_param("~stop_distance", 0.6)
        self.slow_distance = rospy.get_param("~slow_distance", 2.0)
        self.cmd_pub = rospy.Publisher("cmd_vel", Twist, queue_size=1)
        rospy.Subscriber("scan", LaserScan, self.on_scan, queue_size=1)

    def on_scan(self, scan):
        valid = [r for r in scan.ranges if scan.range_min <= r <= scan.range_max]
        nearest = min(valid) if valid else scan.range_max
        cmd = Twist()
        if nearest > self.slow_distance:
            cmd.linear.x = self.max_speed
        elif nearest > self.stop_distance:
            span = self.slow_distance - self.stop_distance
            cmd.linear.x = self.max_speed * (nearest - self.stop_distance) / span
        self.cmd_pub.publish(cmd)
        rospy.logdebug("nearest %.2f m -> %.2f m/s", nearest, cmd.linear.x)
        with open(HEARTBEAT, "a"):
            os.utime(HEARTBEAT, None)


def main():
    rospy.init_node("planner")
    Planner()
    rospy.spin()


if __name__ == "__main__":
    main()
