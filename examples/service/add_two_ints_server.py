#!/usr/bin/env python3
"""The server of the service sample: answers add_two_ints (rospy_tutorials/AddTwoInts)."""
import rospy
from rospy_tutorials.srv import AddTwoInts, AddTwoIntsResponse


def handle(req):
    total = req.a + req.b
    rospy.loginfo("%d + %d = %d", req.a, req.b, total)
    return AddTwoIntsResponse(sum=total)


def main():
    rospy.init_node("add_two_ints_server")
    rospy.Service("add_two_ints", AddTwoInts, handle)
    rospy.loginfo("ready to add two ints")
    rospy.spin()


if __name__ == "__main__":
    main()
