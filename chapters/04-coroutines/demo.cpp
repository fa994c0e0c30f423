// Chapter 4's demo: the seed's "Basic Usage" and "Task Scheduling" examples, written with
// coroutines on this chapter's runtime, and a cancellation: a task aborted while it sleeps,
// its locals destroyed where it was suspended.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Milliseconds since `start`, for the timestamps of the output.
double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// snippet-begin: basic-usage
/// The seed's "Basic Usage": spawn a task and await its handle for the value.
rt::Task<void> basic_usage() {
    rt::JoinHandle<std::string> handle = rt::spawn([]() -> rt::Task<std::string> {
        // Do some work
        co_return "Hello from spawned task";
    });
    const std::string result = co_await handle;
    std::printf("  %s\n", result.c_str());
}
// snippet-end: basic-usage

// snippet-begin: task-scheduling
/// The seed's "Task Scheduling": `tasks` tasks that each sleep, then say so. They sleep at the
/// same time, so all of them finish after about one sleep, not `tasks` of them.
rt::Task<void> task_scheduling(int tasks, std::chrono::milliseconds sleep, bool print_each) {
    const Clock::time_point start = Clock::now();
    std::vector<rt::JoinHandle<void>> handles;
    for (int i = 0; i < tasks; ++i) {
        handles.push_back(rt::spawn([i, sleep, start, print_each]() -> rt::Task<void> {
            co_await rt::sleep(sleep);
            if (print_each) std::printf("  [%7.1f ms] task %d completed\n", ms_since(start), i);
        }));
    }
    for (rt::JoinHandle<void>& handle : handles) co_await handle;  // wait for all of them
    std::printf("  all %d tasks done after %.1f ms; one after another they would take %lld ms\n",
                tasks, ms_since(start), static_cast<long long>(sleep.count()) * tasks);
}
// snippet-end: task-scheduling

/// Says when it is destroyed: the proof that an aborted coroutine's locals are cleaned up.
class Announcer {
public:
    explicit Announcer(Clock::time_point start) : start_(start) {}
    Announcer(const Announcer&) = delete;
    Announcer& operator=(const Announcer&) = delete;
    ~Announcer() {
        std::printf("  [%7.1f ms] the sleeper's local is destroyed, where it was suspended\n",
                    ms_since(start_));
    }

private:
    Clock::time_point start_;
};

// snippet-begin: cancellation
/// Abort a task in the middle of a long sleep: its frame is destroyed at once, and awaiting
/// its handle says it was aborted.
rt::Task<void> cancellation(std::chrono::milliseconds sleep) {
    const Clock::time_point start = Clock::now();
    rt::JoinHandle<void> sleeper = rt::spawn([start, sleep]() -> rt::Task<void> {
        Announcer local(start);
        co_await rt::sleep(std::chrono::hours(1));
        std::printf("  the sleeper woke up: this line is never printed\n");
    });
    co_await rt::yield_now();  // the sleeper runs, up to its sleep
    co_await rt::sleep(sleep);
    std::printf("  [%7.1f ms] abort the sleeper\n", ms_since(start));
    sleeper.abort();
    try {
        co_await sleeper;
    } catch (const rt::TaskAborted& aborted) {
        std::printf("  [%7.1f ms] its handle says: %s\n", ms_since(start), aborted.what());
    }
}
// snippet-end: cancellation

}  // namespace

int main(int argc, char** argv) {
    int tasks = 3;
    int sleep_ms = 100;

    CLI::App app{
        "Chapter 4: coroutines. Runs the seed's examples on this chapter's runtime: a spawned "
        "task whose value comes back through its JoinHandle; TASKS tasks that each sleep SLEEP "
        "ms at the same time and report when they complete; and a task aborted in the middle of "
        "an hour-long sleep after SLEEP ms, whose locals are destroyed where it was suspended.",
        "demo"};
    app.add_option("-t,--tasks", tasks, "number of sleeping tasks (each is printed up to 20)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    app.add_option("-s,--sleep-ms", sleep_ms, "how long each task sleeps, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    const std::chrono::milliseconds sleep(sleep_ms);

    std::printf("Basic usage: spawn a task, await its handle\n");
    rt::block_on(basic_usage());

    std::printf("\nTask scheduling: %d tasks, each sleeping %d ms\n", tasks, sleep_ms);
    rt::block_on(task_scheduling(tasks, sleep, tasks <= 20));

    std::printf("\nCancellation: abort a task that sleeps for an hour, after %d ms\n", sleep_ms);
    rt::block_on(cancellation(sleep));
    return 0;
}
