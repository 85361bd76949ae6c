# roster.py -- the demo's live roster: who is on the chat page right now.
#
# The Python counterpart of the Roster class in Juggernaut's README: it
# listens to the server events juggernaut:subscribe / juggernaut:unsubscribe,
# takes user_id (and name) from each event's meta, keeps a count per user
# (a user may have several windows open, or a session being replaced) and,
# whenever the roster changes, publishes the whole list to the /roster
# channel. Only subscriptions to /roster itself are counted: a page that
# receives the list is then always one the roster knows about.
#
# It runs as a thread of demo/run_demo.py (and of the browser tests' stack),
# talking RESP to the private Redis through tests/lib/jugtest.py.
import json
import threading
import time

ROSTER_CHANNEL = "/roster"


class Roster:
    def __init__(self, jugtest, address, channel="juggernaut"):
        self.jt = jugtest
        self.address = address
        self.channel = channel
        self.counts = {}        # user_id -> number of live subscriptions
        self.names = {}         # user_id -> display name
        self.stopping = False
        self.conn = None
        self.thread = threading.Thread(target=self._run, name="roster", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stopping = True
        if self.conn:
            self.conn.close()

    def users(self):
        return [{"user_id": uid, "name": self.names.get(uid, uid), "count": n}
                for uid, n in sorted(self.counts.items(), key=lambda kv: self.names.get(kv[0], ""))]

    def _run(self):
        # Reconnects when Redis restarts; counts start again from zero then,
        # like the Ruby Roster's would.
        while not self.stopping:
            try:
                self.conn = self.jt.RedisConnection(self.address, timeout=None)
                self.conn.send("SUBSCRIBE", self.channel + ":subscribe",
                               self.channel + ":unsubscribe")
                self.conn.read()
                self.conn.read()
                while not self.stopping:
                    reply = self.conn.read()
                    if isinstance(reply, list) and reply[:1] == ["message"]:
                        self._event(reply[1], reply[2])
            except (OSError, ConnectionError, ValueError):
                if self.stopping:
                    return
                time.sleep(0.5)

    def _event(self, event_channel, text):
        try:
            event = json.loads(text)
        except ValueError:
            return
        if not isinstance(event, dict) or event.get("channel") != ROSTER_CHANNEL:
            return
        meta = event.get("meta")
        uid = meta.get("user_id") if isinstance(meta, dict) else None
        if not isinstance(uid, str) or not uid:
            return
        if event_channel.endswith(":subscribe"):
            self.counts[uid] = self.counts.get(uid, 0) + 1
            name = meta.get("name")
            if isinstance(name, str) and name:
                self.names[uid] = name[:40]
        elif uid in self.counts:
            self.counts[uid] -= 1
            if self.counts[uid] <= 0:
                del self.counts[uid]
                self.names.pop(uid, None)
        else:
            return
        self._publish()

    def _publish(self):
        msg = {"channels": [ROSTER_CHANNEL], "data": {"type": "roster", "users": self.users()}}
        try:
            conn = self.jt.RedisConnection(self.address, timeout=5)
            try:
                conn.command("PUBLISH", self.channel, json.dumps(msg))
            finally:
                conn.close()
        except (OSError, ConnectionError, self.jt.RedisError):
            pass
