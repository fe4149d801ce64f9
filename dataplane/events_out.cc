#include "dataplane/events_out.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

namespace tcpsleuth {

struct EventsOut::State {
    struct Entry {
        std::string line;
        FilePtr next;  // non-null: switch to this file here
    };
    explicit State(std::size_t max) : max_bytes(max) {}

    const std::size_t max_bytes;
    std::mutex mu;
    std::condition_variable wake, idle;
    std::deque<Entry> queue;
    std::size_t queued_bytes = 0;
    bool busy = false, stopping = false, exited = false;
    std::uint64_t written = 0, dropped = 0, write_errors = 0;
    FilePtr file;

    void run() {
        std::unique_lock lock(mu);
        for (;;) {
            wake.wait(lock, [this] { return stopping || !queue.empty(); });
            if (queue.empty()) break;  // stopping, everything written
            Entry e = std::move(queue.front());
            queue.pop_front();
            busy = true;
            lock.unlock();  // the disk may take its time: the main core keeps pushing meanwhile
            const bool is_switch = e.next != nullptr;
            bool ok = true;
            if (is_switch) {
                file = std::move(e.next);  // the old file closes here, after every line before the switch
            } else if (file) {
                ok = std::fwrite(e.line.data(), 1, e.line.size(), file.get()) == e.line.size();
            }
            lock.lock();
            busy = false;
            if (!is_switch) {
                queued_bytes -= e.line.size();
                ++(ok ? written : write_errors);
            }
            if (queue.empty()) idle.notify_all();
        }
        exited = true;
        idle.notify_all();
    }
};

EventsOut::EventsOut(std::size_t max_bytes) : state_(std::make_shared<State>(max_bytes)) {}

EventsOut::~EventsOut() {
    if (!thread_.joinable()) return;
    std::unique_lock lock(state_->mu);
    state_->stopping = true;
    state_->wake.notify_one();
    // A writer blocked for good (a FIFO nobody reads) is left behind with the state it
    // shares; the process is ending.
    if (state_->idle.wait_for(lock, std::chrono::seconds(2), [this] { return state_->exited; })) {
        lock.unlock();
        thread_.join();
    } else {
        thread_.detach();
    }
}

void EventsOut::start(FilePtr file) {
    state_->file = std::move(file);
    thread_ = std::thread([state = state_] { state->run(); });
}

bool EventsOut::push(std::string_view line, bool urgent) {
    State& s = *state_;
    {
        std::lock_guard lock(s.mu);
        const std::size_t bound = s.max_bytes + (urgent ? 64 * 1024 : 0);
        if (s.queued_bytes + line.size() > bound) {
            ++s.dropped;
            return false;
        }
        s.queued_bytes += line.size();
        s.queue.push_back({std::string(line), nullptr});
    }
    s.wake.notify_one();
    return true;
}

void EventsOut::switch_to(FilePtr file) {
    {
        std::lock_guard lock(state_->mu);
        state_->queue.push_back({std::string(), std::move(file)});
    }
    state_->wake.notify_one();
}

bool EventsOut::drain(std::chrono::milliseconds limit) {
    State& s = *state_;
    std::unique_lock lock(s.mu);
    if (s.idle.wait_for(lock, limit, [&s] { return s.queue.empty() && !s.busy; })) return true;
    // Out of time: the lines still waiting are dropped (counted); switches still apply.
    std::deque<State::Entry> kept;
    for (State::Entry& e : s.queue) {
        if (e.next) {
            kept.push_back(std::move(e));
        } else {
            ++s.dropped;
            s.queued_bytes -= e.line.size();
        }
    }
    s.queue = std::move(kept);
    return false;
}

std::uint64_t EventsOut::written() const {
    std::lock_guard lock(state_->mu);
    return state_->written;
}
std::uint64_t EventsOut::dropped() const {
    std::lock_guard lock(state_->mu);
    return state_->dropped;
}
std::uint64_t EventsOut::write_errors() const {
    std::lock_guard lock(state_->mu);
    return state_->write_errors;
}

}  // namespace tcpsleuth
