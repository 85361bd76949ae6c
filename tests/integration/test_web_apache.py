# test_web_apache.py -- juggernaut.fcgi behind apache, configured by the file shipped
# in conf/: long-poll, JSONP, every streaming transport, disconnects, CORS
# (the cases are in tests/lib/webcases.py, shared by every web server).
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

import webcases  # noqa: E402

webcases.run("apache")
