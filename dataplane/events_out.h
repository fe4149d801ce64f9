#pragma once
// The daemon's events file written by a thread of its own. The main core serves the control
// socket, reloads, Redis and the workers' event rings; a slow disk under the events file (or
// a FIFO whose reader lags) must not stop it. So lines go into a bounded queue, and this
// thread writes them in order, each in one write(2) (write_whole_lines). A full queue drops
// the line and counts it (sensor.events_lost says so); the main core never waits, except at
// stop, when what is queued gets a bounded time to be written before the report.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

#include "dataplane/output.h"

namespace tcpsleuth {

class EventsOut {
public:
    // `max_bytes`: what may wait for the disk before lines are dropped.
    explicit EventsOut(std::size_t max_bytes);
    ~EventsOut();
    EventsOut(const EventsOut&) = delete;
    EventsOut& operator=(const EventsOut&) = delete;

    // Takes the file (already write_whole_lines) and starts writing.
    void start(FilePtr file);
    // One line, its newline included. False when the queue is full: dropped and counted.
    // `urgent` lines (the sensor's own findings about loss) may use 64 KiB beyond the bound,
    // so the report of a loss is not lost to the same full queue.
    bool push(std::string_view line, bool urgent = false);
    // Lines queued before go to the current file, which is then closed; later ones to `file`
    // (a reopen after logrotate, a rotation).
    void switch_to(FilePtr file);
    // Waits until every queued line is written, at most `limit`; what is still queued then is
    // dropped and counted (a stop must not wait for a stalled disk). False on the timeout.
    bool drain(std::chrono::milliseconds limit);

    std::uint64_t written() const;
    std::uint64_t dropped() const;
    std::uint64_t write_errors() const;

private:
    struct State;  // shared with the thread: a writer stuck in write(2) at exit outlives this
    std::shared_ptr<State> state_;
    std::thread thread_;
};

}  // namespace tcpsleuth
