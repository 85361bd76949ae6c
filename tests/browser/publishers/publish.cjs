// publish.cjs SOCKET CHANNEL DATA-JSON -- a Node program publishing the way
// Juggernaut 2.1.1's README shows (node_redis: client.publish("juggernaut",
// JSON.stringify(msg))), run by test_socketio.mjs against the test's Redis
// with npm's redis@3 (the callback API of the README's time).
const redis = require("redis");

const [socketPath, channel, data] = process.argv.slice(2);
const msg = { channels: [channel], data: JSON.parse(data) };
const client = redis.createClient({ path: socketPath });
client.on("error", (e) => {
  console.error(e.message);
  process.exit(1);
});
client.publish("juggernaut", JSON.stringify(msg), (err) => {
  if (err) {
    console.error(err.message);
    process.exit(1);
  }
  client.quit();
});
