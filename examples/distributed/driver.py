#!/usr/bin/env python3
"""The driver of the distributed sample: runs on the robot (placement: local). It
publishes the robot's range sensor as sensor_msgs/LaserScan on /scan (simulated here: a
wall that the robot approaches while it drives and that moves away when it stops) and
executes the velocity commands that arrive on /cmd_vel (geometry_msgs/Twist)."""
import math

import rospy
from geometry_msgs.msg import Twist
from sensor_msgs.msg import LaserScan


class Driver:
    def __init__(self):
        self.distance = 4.0     # metres to the simulated wall ahead
        self.speed = 0.0
        self.scan_pub = rospy.Publisher("scan", LaserScan, queue_size=1)
        rospy.Subscriber("cmd_vel", Twist, self.on_cmd_vel)

    def on_cmd_vel(self, msg):
        self.speed = msg.linear.x

    def step(self, dt):
        self.distance = max(0.2, self.distance - self.speed * dt) if self.speed > 0 else min(4.0, self.distance + 0.5 * dt)
        scan = LaserScan()
        scan.header.stamp = rospy.Time.now()
        scan.header.frame_id = "base_scan"
        scan.angle_min, scan.angle_max = -math.pi / 4, math.pi / 4
        scan.angle_increment = math.pi / 40
        scan.range_min, scan.range_max = 0.1, 10.0
        beams = int(round((scan.angle_max - scan.angle_min) / scan.angle_increment)) + 1
        scan.ranges = [self.distance / max(math.cos(scan.angle_min + i * scan.angle_increment), 0.1)
                       for i in range(beams)]
        self.scan_pub.publish(scan)


def main():
    rospy.init_node("driver")
    driver = Driver()
    hz = rospy.get_param("~rate_hz", 10.0)
    rate = rospy.Rate(hz)
    while not rospy.is_shutdown():
        driver.step(1.0 / hz)
        rate.sleep()


if __name__ == "__main__":
    try:
        main()
    except rospy.ROSInterruptException:
        pass
