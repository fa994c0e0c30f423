// Exercise 10-02's program: a runtime with an ex::BlockingDetector watching it. A few healthy
// tasks sleep and wake beside a "blocker" that blocks its worker on purpose, with
// std::this_thread::sleep_for inside its poll, and the watchdog reports the blocked poll while
// it still runs: the report comes before the line that says the poll has ended. Exits 0 once
// every task has finished.
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <blocking_detector.hpp>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using std::chrono::milliseconds;

const ex::Clock::time_point started = ex::Clock::now();

long long ms_since_start() {
    return std::chrono::duration_cast<milliseconds>(ex::Clock::now() - started).count();
}

/// One line on stdout, from any thread (the workers and the watchdog), with the time since the
/// program started.
[[gnu::format(printf, 1, 2)]] void say(const char* format, ...) {
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    std::printf("%5lld ms  ", ms_since_start());
    va_list args;
    va_start(args, format);
    std::vprintf(format, args);
    va_end(args);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

/// The reports per task, for the summary.
class ReportCounts {
public:
    void add(const std::string& task) {
        std::lock_guard lock(mutex_);
        ++counts_[task];
    }
    int of(const std::string& task) const {
        std::lock_guard lock(mutex_);
        const auto found = counts_.find(task);
        return found == counts_.end() ? 0 : found->second;
    }

private:
    mutable std::mutex mutex_;
    std::map<std::string, int> counts_;
};

/// A task that behaves: many short polls, each followed by a sleep of a millisecond or two.
rt::Task<int> healthy(int turns) {
    for (int turn = 0; turn < turns; ++turn) co_await rt::sleep(milliseconds(1 + turn % 2));
    co_return turns;
}

/// A task that does not: after a short sleep, one poll that blocks its worker for `block`.
rt::Task<void> blocker(milliseconds block) {
    co_await rt::sleep(milliseconds(20));
    say("blocker: sleeping %lld ms inside its poll, wrongly, on purpose",
        static_cast<long long>(block.count()));
    const auto begun = ex::Clock::now();
    std::this_thread::sleep_for(block);  // the blocking call that belongs on spawn_blocking
    say("blocker: its poll has ended, after %lld ms",
        static_cast<long long>(
            std::chrono::duration_cast<milliseconds>(ex::Clock::now() - begun).count()));
}

rt::Task<int> workload(ex::BlockingDetector& detector, int healthy_tasks, milliseconds block) {
    std::vector<rt::JoinHandle<int>> tasks;
    for (int i = 0; i < healthy_tasks; ++i) {
        tasks.push_back(rt::spawn(ex::watched(detector, "healthy", healthy(100))));
    }
    auto blocking = rt::spawn(ex::watched(detector, "blocker", blocker(block)));
    int turns = 0;
    for (rt::JoinHandle<int>& task : tasks) turns += co_await task;
    co_await blocking;
    co_return turns;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t workers = 2;
    int block_ms = 300;
    int threshold_ms = 100;
    int interval_ms = 10;
    int healthy_tasks = 4;
    CLI::App app{
        "Exercise 10-02: a watchdog thread reports a task that blocks its worker while the "
        "poll still runs. Healthy tasks run beside a blocker that sleeps inside its poll.",
        "solution-10-02"};
    app.add_option("-w,--workers", workers, "worker threads (0: the single-threaded executor)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{64}))
        ->capture_default_str();
    app.add_option("-b,--block-ms", block_ms, "how long the blocker blocks its worker, in ms")
        ->check(CLI::Range(1, 60'000))
        ->capture_default_str();
    app.add_option("-t,--threshold-ms", threshold_ms,
                   "a poll running longer than this is reported, in ms")
        ->check(CLI::Range(1, 60'000))
        ->capture_default_str();
    app.add_option("-i,--interval-ms", interval_ms, "how often the watchdog scans, in ms")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    app.add_option("--healthy", healthy_tasks, "healthy tasks running beside the blocker")
        ->check(CLI::Range(0, 1'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    try {
        ReportCounts counts;
        ex::DetectorOptions options;
        options.threshold = milliseconds(threshold_ms);
        options.interval = milliseconds(interval_ms);
        // Made before the runtime, so it outlives every task it watches.
        ex::BlockingDetector detector(options, [&counts](const ex::Report& report) {
            counts.add(report.task);
            say("watchdog: the thread of slot %zu has been in one poll for %lld ms (task %s)",
                report.slot,
                static_cast<long long>(
                    std::chrono::duration_cast<milliseconds>(report.running).count()),
                report.task.c_str());
        });
        say("%zu worker%s; a poll running longer than %d ms is reported, scans every %d ms",
            workers, workers == 1 ? "" : "s", threshold_ms, interval_ms);

        int turns = 0;
        {
            rt::Runtime runtime(workers);
            turns = runtime.block_on(workload(detector, healthy_tasks, milliseconds(block_ms)));
        }
        say("healthy tasks: %d finished, %d sleeps, %d reported", healthy_tasks, turns,
            counts.of("healthy"));
        if (counts.of("blocker") == 0) {
            say("the blocker was not reported: its poll ended before the watchdog saw it run "
                "past %d ms (try a longer --block-ms)",
                threshold_ms);
        }
        say("%llu report%s in %llu scans", static_cast<unsigned long long>(detector.reports()),
            detector.reports() == 1 ? "" : "s", static_cast<unsigned long long>(detector.scans()));
        return 0;
    } catch (const std::exception& error) {  // the runtime could not start
        std::fprintf(stderr, "solution-10-02: %s\n", error.what());
        return 1;
    }
}
