#include "dataplane/probe/probe_job.h"

#include "inspectors/output/json_writer.h"

namespace tcpsleuth::probe {

ProbeJob::~ProbeJob() {
    cancel_ = true;
    if (thread_.joinable()) thread_.join();
}

bool ProbeJob::start(Target target, Run run, Done done) {
    if (busy()) return false;
    done_ = std::move(done);
    finished_ = false;
    cancel_ = false;
    run.limits.cancel = &cancel_;
    thread_ = std::thread([this, target = std::move(target), run = std::move(run)]() mutable {
        std::vector<std::string> findings, lines;
        const RunEnd end = run_probe(target, run, [&](const std::string&, const TestResult& r) {
            for (const Finding& f : r.findings) findings.push_back(finding_json(f));
            lines.push_back(r.line);
        });
        ok_ = end.started;
        if (!end.started) {
            result_ = target.text + ": " + end.error;
        } else {
            result_.clear();
            JsonWriter w(result_);
            w.begin_object().field("target", target.text).field("port", static_cast<std::uint32_t>(target.port));
            w.field("source", end.source_text).key("tests").begin_array();
            for (const std::string& t : run.tests) w.value(t);
            w.end_array().key("findings").begin_array();
            for (const std::string& f : findings) w.raw(f);
            w.end_array().key("lines").begin_array();
            for (const std::string& l : lines) w.value(l);
            w.end_array().field("packets_sent", end.sent).field("seconds", end.seconds).field("budget_ran_out", end.budget_ran_out);
            w.end_object();
        }
        finished_.store(true, std::memory_order_release);
    });
    return true;
}

void ProbeJob::poll() {
    if (!thread_.joinable() || !finished_.load(std::memory_order_acquire)) return;
    thread_.join();
    Done done = std::move(done_);
    done_ = nullptr;
    done(ok_, std::move(result_));
}

}  // namespace tcpsleuth::probe
