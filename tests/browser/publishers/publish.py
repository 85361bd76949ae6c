# publish.py SOCKET CHANNEL DATA-JSON -- a Python program publishing the way
# Juggernaut 2.1.1's README shows (redis-py: PUBLISH juggernaut
# json.dumps(msg)), run by test_socketio.mjs against the test's Redis.
import json
import sys

import redis

socket_path, channel, data = sys.argv[1:4]
msg = {"channels": [channel], "data": json.loads(data)}
r = redis.Redis(unix_socket_path=socket_path)
r.publish("juggernaut", json.dumps(msg))
