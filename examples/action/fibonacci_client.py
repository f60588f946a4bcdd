#!/usr/bin/env python3
"""The client of the action sample: sends Fibonacci goals in a loop and checks each
result. Each correct result touches the heartbeat file ($READINESS_HEARTBEAT), so the pod
is Ready only while the action server really serves goals."""
import os

import actionlib
import rospy
from actionlib_tutorials.msg import FibonacciAction, FibonacciGoal

HEARTBEAT = os.environ.get("READINESS_HEARTBEAT", "/tmp/heard")


def expected(order):
    seq = [0, 1]
    for _ in range(1, order):
        seq.append(seq[-1] + seq[-2])
    return seq


def main():
    rospy.init_node("fibonacci_client")
    order = rospy.get_param("~order", 10)
    client = actionlib.SimpleActionClient("fibonacci", FibonacciAction)
    client.wait_for_server()
    while not rospy.is_shutdown():
        client.send_goal(FibonacciGoal(order=order),
                         feedback_cb=lambda fb: rospy.logdebug("feedback: %s", list(fb.sequence)))
        if not client.wait_for_result(rospy.Duration(30)):
            rospy.logwarn("fibonacci(%d): no result after 30s; cancelling", order)
            client.cancel_goal()
            continue
        result = list(client.get_result().sequence)
        if result == expected(order):
            rospy.loginfo("fibonacci(%d) = %s", order, result)
            with open(HEARTBEAT, "a"):
                os.utime(HEARTBEAT, None)
        else:
            rospy.logerr("fibonacci(%d): wrong result %s", order, result)
        rospy.sleep(1.0)


if __name__ == "__main__":
    try:
        main()
    except rospy.ROSInterruptException:
        pass
