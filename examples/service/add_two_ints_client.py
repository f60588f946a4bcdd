#!/usr/bin/env python3
"""The client of the service sample: calls add_two_ints every few seconds and checks
the answer. Each correct answer touches the heartbeat file ($READINESS_HEARTBEAT), so the
pod is Ready only while the service really answers."""
import os
import random

import rospy
from rospy_tutorials.srv import AddTwoInts

HEARTBEAT = os.environ.get("READINESS_HEARTBEAT", "/tmp/heard")


def main():
    rospy.init_node("add_two_ints_client")
    period = rospy.get_param("~period_s", 2.0)
    rospy.wait_for_service("add_two_ints")
    add = rospy.ServiceProxy("add_two_ints", AddTwoInts, persistent=True)
    while not rospy.is_shutdown():
        a, b = random.randint(0, 1000), random.randint(0, 1000)
        try:
            total = add(a, b).sum
        except (rospy.ServiceException, rospy.ROSException) as err:
            rospy.logwarn("add_two_ints failed: %s; reconnecting", err)
            rospy.wait_for_service("add_two_ints")
            add = rospy.ServiceProxy("add_two_ints", AddTwoInts, persistent=True)
            continue
        if total == a + b:
            rospy.loginfo("%d + %d = %d", a, b, total)
            with open(HEARTBEAT, "a"):
                os.utime(HEARTBEAT, None)
        else:
            rospy.logerr("%d + %d: the server answered %d", a, b, total)
        rospy.sleep(period)


if __name__ == "__main__":
    try:
        main()
    except rospy.ROSInterruptException:
        pass
