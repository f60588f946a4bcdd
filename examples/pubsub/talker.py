#!/usr/bin/env python3
"""The talker of the pubsub sample: publishes a counter on /chatter (std_msgs/String)."""
import rospy
from std_msgs.msg import String


def main():
    rospy.init_node("talker")
    pub = rospy.Publisher("chatter", String, queue_size=10)
    rate = rospy.Rate(rospy.get_param("~rate_hz", 1.0))
    count = 0
    while not rospy.is_shutdown():
        text = "hello from rigelk8s %d" % count
        pub.publish(String(data=text))
        rospy.loginfo("published: %s", text)
        count += 1
        rate.sleep()


if __name__ == "__main__":
    try:
        main()
    except rospy.ROSInterruptException:
        pass
