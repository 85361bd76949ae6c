# publish.rb CHANNEL DATA-JSON [EXCEPT] -- a Ruby program publishing the way
# Juggernaut 2.1.1's README shows (require "juggernaut"; Juggernaut.publish),
# run by test_socketio.mjs with REDIS_URL set to the test's Redis.
require "json"
require "juggernaut"

channel, data, except = ARGV
options = except ? {:except => except} : {}
Juggernaut.publish(channel, JSON.parse(data), options)
