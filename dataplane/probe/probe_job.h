#pragma once
// A probe the daemon runs for `tcpsleuthctl probe` ([probe] enabled): on a thread of its own,
// since a probe takes seconds and the main core serves the workers, the control socket and
// the outputs meanwhile. One at a time; poll() from the main loop hands the result over.

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "dataplane/probe/probe_run.h"

namespace tcpsleuth::probe {

class ProbeJob {
public:
    // The reply's data: {"target", "source", "tests", "findings": [event objects], "lines",
    // "packets_sent", "seconds", "budget_ran_out"}; or an error message.
    using Done = std::function<void(bool ok, std::string json_or_error)>;

    // A probe still running is cancelled: it stops at its next send or wait (about a second).
    ~ProbeJob();
    bool busy() const noexcept { return thread_.joinable(); }
    // False when one is running already.
    bool start(Target target, Run run, Done done);
    // From the main loop: calls `done` once the probe has ended.
    void poll();

private:
    std::thread thread_;
    std::atomic<bool> finished_{false};
    std::atomic<bool> cancel_{false};  // set when the daemon stops: the probe ends at its next send
    bool ok_ = false;
    std::string result_;
    Done done_;
};

}  // namespace tcpsleuth::probe
