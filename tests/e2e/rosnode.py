"""A real rospy node for the ROS graph tests: rosnode.py NAME ROLE, ROLE one of talker
(publishes /chatter), listener (subscribes to /chatter), server (serves /add_two_ints with
roscpp/Empty, a service type Debian ships) or idle (registers nothing but itself).
Prints "up" once registered, then spins until SIGTERM. Run by Debian's python3."""
import signal
import sys

import rospy
from roscpp.srv import Empty, EmptyResponse
from std_msgs.msg import String

name, role = sys.argv[1], sys.argv[2]
rospy.init_node(name, anonymous=False, disable_signals=True)
if role == "talker":
    pub = rospy.Publisher("/chatter", String, queue_size=10)
elif role == "listener":
    rospy.Subscriber("/chatter", String, lambda m: None)
elif role == "server":
    rospy.Service("/add_two_ints", Empty, lambda req: EmptyResponse())
signal.signal(signal.SIGTERM, lambda *a: rospy.signal_shutdown("SIGTERM"))
print("up", flush=True)
rospy.spin()
