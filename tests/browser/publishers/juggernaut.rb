# juggernaut.rb -- stands in for the juggernaut gem (Juggernaut 2.1.1's Ruby
# client), which neither Debian nor npm carries, so that test_socketio.mjs
# can run Ruby code written for it unchanged: Juggernaut.publish(channels,
# data, options) sends {channels, data, options...} as JSON to the Redis
# channel "juggernaut", as the gem does (Juggernaut 2.1.1 README, "Basic
# usage"). Redis.new finds the server through REDIS_URL.
require "json"
require "redis"

module Juggernaut
  extend self

  def redis
    @redis ||= Redis.new
  end

  def publish(channels, data, options = {})
    message = {:channels => Array(channels).uniq, :data => data}.merge(options)
    redis.publish("juggernaut", message.to_json)
  end
end
