#!/usr/bin/env python3
"""The server of the action sample: the actionlib Fibonacci action
(actionlib_tutorials/Fibonacci), with feedback after every number and preemption."""
import actionlib
import rospy
from actionlib_tutorials.msg import FibonacciAction, FibonacciFeedback, FibonacciResult


class FibonacciServer:
    def __init__(self, name):
        self.server = actionlib.SimpleActionServer(name, FibonacciAction, execute_cb=self.execute,
                                                   auto_start=False)
        self.server.start()

    def execute(self, goal):
        sequence = [0, 1]
        rate = rospy.Rate(rospy.get_param("~steps_hz", 5.0))
        for _ in range(1, goal.order):
            if self.server.is_preempt_requested() or rospy.is_shutdown():
                rospy.loginfo("fibonacci: preempted at %d numbers", len(sequence))
                self.server.set_preempted()
                return
            sequence.append(sequence[-1] + sequence[-2])
            self.server.publish_feedback(FibonacciFeedback(sequence=sequence))
            rate.sleep()
        rospy.loginfo("fibonacci(%d) done: %s", goal.order, sequence)
        self.server.set_succeeded(FibonacciResult(sequence=sequence))


def main():
    rospy.init_node("fibonacci_server")
    FibonacciServer("fibonacci")
    rospy.spin()


if __name__ == "__main__":
    main()
