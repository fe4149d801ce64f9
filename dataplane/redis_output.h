#pragma once
// [output.redis]: every finding, as the same JSON line the events file gets, sent to a Redis
// server so a fleet of sensors feeds one place (as Suricata's EVE output does): appended to a
// stream (XADD, trimmed to about max_length entries), pushed onto a list (RPUSH or LPUSH) or
// published on a channel (PUBLISH). Each line gains the sensor's name and its own sequence
// number ("sensor":"edge-1","seq":17 first), so a consumer can tell sensors apart, see gaps
// and drop a line it got twice.
//
// On the main core, off the packet path: one non-blocking TCP connection, commands pipelined
// (up to kWindow awaiting their reply), a bounded queue of lines not yet acknowledged. The
// connection is re-opened after a failure (every reconnect_ms), authenticating first when a
// password is set; lines sent but not
// acknowledged when it broke are sent again (at least once: the seq tells duplicates). A
// line that finds the queue full is dropped and counted; so is one the server refuses.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "config/daemon_config.h"
#include "control/controller.h"

namespace tcpsleuth {

struct RedisStats {
    std::uint64_t queued = 0;     // lines given to the output (the last seq)
    std::uint64_t delivered = 0;  // acknowledged by the server
    std::uint64_t dropped = 0;    // the queue was full
    std::uint64_t refused = 0;    // the server answered with an error
    std::uint64_t resent = 0;     // sent again after a broken connection
    std::uint64_t connects = 0;   // connections made (the first one included)
    std::uint64_t pending = 0;    // queued, not yet acknowledged
};

class RedisOutput {
public:
    static constexpr std::size_t kWindow = 256;  // commands in flight at once

    // `sensor`: the name each line carries.
    RedisOutput(const RedisConfig& cfg, std::string sensor);
    ~RedisOutput();
    RedisOutput(const RedisOutput&) = delete;
    RedisOutput& operator=(const RedisOutput&) = delete;

    // One event's JSON object (no newline): queued, or counted dropped when the queue is full.
    void push(std::string_view json_line);
    // Connects, sends and reads what it can without blocking. Call often.
    void poll();
    // At exit: polls until every line is acknowledged or `timeout_ms` passes (then what is
    // left counts as dropped). True when nothing was left.
    bool flush(std::uint32_t timeout_ms);

    RedisStats stats() const noexcept {
        RedisStats s = stats_;
        s.queued = seq_;
        s.pending = waiting_.size() + inflight_.size();
        return s;
    }
    // Lines queued and not yet acknowledged.
    bool pending() const noexcept { return !waiting_.empty() || !inflight_.empty(); }
    const std::string& last_error() const noexcept { return last_error_; }
    bool connected() const noexcept { return state_ == State::kConnected; }

private:
    enum class State { kDown, kConnecting, kConnected };
    struct Line {
        std::uint64_t seq;
        std::string json;  // sensor and seq already in it
    };

    void connect();
    void connected();
    void disconnect(const std::string& why);
    void encode(const Line& l, std::string& out) const;
    void fill_output();
    bool send_some();
    bool read_some();
    // Takes one complete reply off in_: 1 one taken (ok set: not an error), 0 incomplete, -1 malformed.
    int take_reply(bool& ok);

    RedisConfig cfg_;
    std::string sensor_json_;  // "\"sensor\":\"NAME\","
    int fd_ = -1;
    State state_ = State::kDown;
    // With a password: AUTH goes first on each connection and lines wait for its answer (a
    // refused AUTH would make every line after it a NOAUTH error, lost).
    bool auth_sent_ = false;
    bool authenticated_ = false;
    std::uint64_t next_try_ms_ = 0;
    std::deque<Line> waiting_;   // not sent yet
    std::deque<Line> inflight_;  // sent, awaiting their reply, oldest first
    std::string out_;            // encoded, not yet written
    std::string in_;             // received, not yet parsed
    std::uint64_t seq_ = 0;
    RedisStats stats_;
    std::string last_error_;
    std::string last_logged_;  // the last reason a broken connection was logged for
};

// The host's name, for sensor.name's default.
std::string host_name();

// The output's counters as metrics samples (tcpsleuth_redis_*), appended to `out`.
void redis_metrics(const RedisOutput& r, std::vector<control::MetricSample>& out);

// At exit: "redis: N queued, N delivered, N dropped, N refused, N resent, N connection(s)".
void log_redis_stats(const RedisOutput& r);

}  // namespace tcpsleuth
