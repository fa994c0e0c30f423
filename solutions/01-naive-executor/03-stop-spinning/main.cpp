// Exercise 01-03's program: chapter 1's demo workload (tasks that print a line, then sleep) on
// SleepingExecutor with the real clock. The counts at the end show the executor sleeping
// instead of spinning; --yielder adds a task that never reports a deadline, and the spinning
// comes back.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <vector>

#include <sleeping_executor.hpp>

#include "rt/yield_now.hpp"
#include "support/cli.hpp"
#include "support/cpu_time.hpp"
#include "support/format.hpp"

namespace {

using Executor = rt::SleepingExecutor<rt::RealClock>;
using Clock = std::chrono::steady_clock;

/// One task of chapter 1's demo: prints a line, sleeps, `steps` times. The sleeps come from
/// the executor, so each one that answers pending reports its deadline to it.
class Worker {
public:
    using Output = void;

    Worker(Executor& executor, int id, int steps, Clock::duration pause, Clock::time_point start,
           bool print, std::uint64_t& polls, std::shared_ptr<int> workers_left)
        : executor_(executor),
          id_(id),
          steps_(steps),
          pause_(pause),
          start_(start),
          print_(print),
          polls_(polls),
          workers_left_(std::move(workers_left)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++polls_;
        for (;;) {
            if (sleep_) {
                if (sleep_->poll(cx).is_pending()) return rt::pending;
                sleep_.reset();
                ++step_;
            }
            if (step_ == steps_) {
                --*workers_left_;
                return rt::ready;
            }
            if (print_) {
                const double t = std::chrono::duration<double>(Clock::now() - start_).count();
                std::printf("[%6.3f s] task %d: step %d of %d\n", t, id_, step_ + 1, steps_);
            }
            sleep_.emplace(executor_.sleep(pause_));
        }
    }

private:
    Executor& executor_;
    int id_;
    int steps_;
    int step_ = 0;
    Clock::duration pause_;
    Clock::time_point start_;
    bool print_;
    std::uint64_t& polls_;
    std::shared_ptr<int> workers_left_;  // workers not finished yet, shared with the yielder
    std::optional<Executor::Sleep> sleep_;
};

/// A task that awaits chapter 1's yield_now again and again until every worker is done. Each
/// yield answers pending without a deadline, so no round ends with every task waiting for
/// time, and the executor cannot sleep while this task is queued.
class Yielder {
public:
    using Output = void;

    Yielder(std::shared_ptr<int> workers_left, std::uint64_t& polls)
        : workers_left_(std::move(workers_left)), polls_(polls) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++polls_;
        for (;;) {
            if (*workers_left_ == 0) return rt::ready;
            if (!yield_) yield_.emplace(rt::yield_now());
            if (yield_->poll(cx).is_pending()) return rt::pending;
            yield_.reset();
        }
    }

private:
    std::shared_ptr<int> workers_left_;
    std::uint64_t& polls_;
    std::optional<rt::YieldNow> yield_;
};

}  // namespace

int main(int argc, char** argv) {
    int tasks = 3;
    int steps = 4;
    int pause_ms = 150;
    bool quiet = false;
    bool yielder = false;

    CLI::App app{
        "Exercise 01-03: an executor that stops spinning. Runs chapter 1's demo workload on "
        "SleepingExecutor: TASKS tasks print a line STEPS times and sleep between lines (task i "
        "sleeps PAUSE * (TASKS + i) / TASKS ms). After a round in which every task waits for a "
        "deadline, the executor sleeps until the earliest one. --yielder adds a task that yields "
        "until the others are done: it reports no deadline, and the executor spins again.",
        "solution-01-03"};
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
    app.add_flag("-y,--yielder", yielder,
                 "add a task that yields until the others are done, reporting no deadline");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::vector<std::uint64_t> polls(static_cast<std::size_t>(tasks) + 1, 0);  // last: yielder
    auto workers_left = std::make_shared<int>(tasks);
    support::Stopwatch stopwatch;
    const Clock::time_point start = Clock::now();

    Executor executor;
    for (int i = 0; i < tasks; ++i) {
        auto pause = std::chrono::milliseconds(pause_ms) * (tasks + i) / tasks;
        executor.spawn(Worker(executor, i, steps, pause, start, !quiet,
                              polls[static_cast<std::size_t>(i)], workers_left));
    }
    if (yielder) executor.spawn(Yielder(workers_left, polls.back()));
    const Executor::Stats stats = executor.run();

    const double wall = stopwatch.wall_seconds();
    const double cpu = stopwatch.cpu_seconds();
    std::printf("\n%-8s %16s\n", "task", "polls");
    for (int i = 0; i < tasks; ++i) {
        std::printf("%-8d %16s\n", i,
                    support::with_commas(polls[static_cast<std::size_t>(i)]).c_str());
    }
    if (yielder) std::printf("%-8s %16s\n", "yielder", support::with_commas(polls.back()).c_str());
    std::printf(
        "\n%s polls in %s rounds to complete %s tasks; the executor slept %s times.\n",
        support::with_commas(stats.polls).c_str(), support::with_commas(stats.rounds).c_str(),
        support::with_commas(stats.completed).c_str(), support::with_commas(stats.sleeps).c_str());
    std::printf("wall time %.2f s, CPU time %.2f s (%.0f%% of one core).\n", wall, cpu,
                wall > 0 ? 100.0 * cpu / wall : 0.0);
    if (yielder) {
        std::printf(
            "The yielder was pending without a deadline in every round but its last, so the\n"
            "executor could not tell when it might progress, and polled everyone again at once,\n"
            "as chapter 1's does.\n");
    } else {
        std::printf(
            "Every waiting task told the executor its deadline, so after each round it slept\n"
            "until the earliest one. A future that waits for a socket or another thread has no\n"
            "deadline to tell: chapter 2 gives the waker that job.\n");
    }
    return 0;
}
