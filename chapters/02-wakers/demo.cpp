// Chapter 2's demo: chapter 1's kind of workload (a few tasks, each printing a line and then
// sleeping; the base pause is 100 ms here, 150 there) run twice on this stage's executor: once with
// a sleep that can only check the clock and asks to be polled again at once (chapter 1's way of
// waiting), once with the timer-thread sleep that wakes its task at the deadline. Polls and CPU
// time side by side.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"
#include "support/cpu_time.hpp"
#include "support/format.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// snippet-begin: busy-sleep
/// Chapter 1's sleep on this executor: it cannot be told when the deadline passes, so it
/// wakes itself at every poll to be polled again. Busy polling is a future that always
/// says "poll me again now".
class BusySleep {
public:
    using Output = void;
    explicit BusySleep(Clock::time_point deadline) : deadline_(deadline) {}
    rt::Poll<void> poll(rt::Context& cx) {
        if (Clock::now() >= deadline_) return rt::ready;
        cx.waker().wake_by_ref();
        return rt::pending;
    }

private:
    Clock::time_point deadline_;
};
// snippet-end: busy-sleep

// snippet-begin: worker
/// One task, written by hand as the state machine a compiler would make of:
///
///     for (int step = 0; step < steps; ++step) { print(step); co_await sleep(pause); }
///
/// Its state is the loop counter and the sleep it is waiting on, if any. SleepFuture is
/// rt::Sleep (woken by the timer thread) or BusySleep (chapter 1's way).
template <class SleepFuture>
class Worker {
public:
    using Output = void;

    Worker(int id, int steps, Clock::duration pause, Clock::time_point start, bool print,
           std::uint64_t& polls)
        : id_(id), steps_(steps), pause_(pause), start_(start), print_(print), polls_(polls) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++polls_;
        for (;;) {
            if (sleep_) {
                if (sleep_->poll(cx).is_pending()) return rt::pending;
                sleep_.reset();
                ++step_;
            }
            if (step_ == steps_) return rt::ready;
            report();
            sleep_.emplace(Clock::now() + pause_);
        }
    }
    // snippet-end: worker

private:
    void report() const {
        if (!print_) return;
        const double t = std::chrono::duration<double>(Clock::now() - start_).count();
        std::printf("[%6.3f s] task %d: step %d of %d\n", t, id_, step_ + 1, steps_);
    }

    int id_;
    int steps_;
    Clock::duration pause_;
    Clock::time_point start_;
    bool print_;
    std::uint64_t& polls_;  // owned by main, outlives the executor's run
    int step_ = 0;
    std::optional<SleepFuture> sleep_;
};

/// What one run of the workload cost.
struct Cost {
    std::vector<std::uint64_t> polls;  // per task
    rt::RunStats stats;
    double wall = 0;
    double cpu = 0;
};

template <class SleepFuture>
Cost run_workload(int tasks, int steps, int pause_ms, bool print) {
    Cost cost;
    cost.polls.assign(static_cast<std::size_t>(tasks), 0);
    support::Stopwatch stopwatch;
    const Clock::time_point start = Clock::now();
    rt::Executor executor;
    for (int i = 0; i < tasks; ++i) {
        auto pause = std::chrono::milliseconds(pause_ms) * (tasks + i) / tasks;
        executor.spawn(Worker<SleepFuture>(i, steps, pause, start, print,
                                           cost.polls[static_cast<std::size_t>(i)]));
    }
    cost.stats = executor.run();
    cost.wall = stopwatch.wall_seconds();
    cost.cpu = stopwatch.cpu_seconds();
    return cost;
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 3;
    int steps = 4;
    int pause_ms = 100;
    bool quiet = false;

    CLI::App app{
        "Chapter 2: wakers. Runs chapter 1's kind of workload twice on this stage's executor: "
        "TASKS tasks, each printing a line STEPS times and sleeping between lines (task i sleeps "
        "PAUSE * (TASKS + i) / TASKS ms; PAUSE is 150 in chapter 1, --pause-ms 150 gives its "
        "workload exactly). First with a sleep that wakes itself at every poll "
        "(chapter 1's busy polling), then with the timer-thread sleep. Prints polls per task and "
        "CPU time for both.",
        "demo"};
    app.add_option("-t,--tasks", tasks, "number of tasks")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("-s,--steps", steps, "lines each task prints")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("-p,--pause-ms", pause_ms, "base pause between a task's lines, in milliseconds")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_flag("-q,--quiet", quiet, "print only the summary, not every step");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    if (!quiet) std::printf("-- busy polling (chapter 1's way) --\n");
    const Cost busy = run_workload<BusySleep>(tasks, steps, pause_ms, !quiet);
    if (!quiet) std::printf("-- woken by the timer thread --\n");
    const Cost woken = run_workload<rt::Sleep>(tasks, steps, pause_ms, !quiet);

    std::printf("\n%-6s %20s %20s\n", "task", "polls, busy", "polls, woken");
    for (std::size_t i = 0; i < busy.polls.size(); ++i) {
        std::printf("%-6zu %20s %20s\n", i, support::with_commas(busy.polls[i]).c_str(),
                    support::with_commas(woken.polls[i]).c_str());
    }
    std::printf("%-6s %20s %20s\n", "all", support::with_commas(busy.stats.polls).c_str(),
                support::with_commas(woken.stats.polls).c_str());
    std::printf("%-6s %19.2fs %19.2fs\n", "wall", busy.wall, woken.wall);
    std::printf("%-6s %19.2fs %19.2fs\n", "CPU", busy.cpu, woken.cpu);
    std::printf("%-6s %20s %20s\n", "sleeps", support::with_commas(busy.stats.parks).c_str(),
                support::with_commas(woken.stats.parks).c_str());
    std::printf(
        "\nWith wakers, each task is polled once per step plus once to start: the executor\n"
        "sleeps until the timer thread wakes a task, and the CPU stays idle for the same work.\n");
    return 0;
}
