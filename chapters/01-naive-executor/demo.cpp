// Chapter 1's demo: a few tasks, each printing a line and then sleeping, run by the naive
// executor. The lines interleave, so the tasks run concurrently on one thread; the count of
// polls and the CPU time at the end show what busy polling costs.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"
#include "support/cpu_time.hpp"
#include "support/format.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// snippet-begin: worker
/// One task, written by hand as the state machine a compiler would make of:
///
///     for (int step = 0; step < steps; ++step) { print(step); co_await sleep(pause); }
///
/// Its state is the loop counter and the sleep it is waiting on, if any.
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
            sleep_.emplace(rt::sleep(pause_));
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
    std::optional<rt::Sleep> sleep_;
};

}  // namespace

int main(int argc, char** argv) {
    int tasks = 3;
    int steps = 4;
    int pause_ms = 150;
    bool quiet = false;

    CLI::App app{
        "Chapter 1: the naive executor. Runs TASKS tasks; each prints a line STEPS times and "
        "sleeps between lines (task i sleeps PAUSE * (TASKS + i) / TASKS ms). The sleep can only "
        "check the clock, so the executor polls every task again and again. At the end: polls "
        "per task and the CPU time burnt.",
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

    std::vector<std::uint64_t> polls(static_cast<std::size_t>(tasks), 0);
    support::Stopwatch stopwatch;
    const Clock::time_point start = Clock::now();

    rt::Executor executor;
    for (int i = 0; i < tasks; ++i) {
        auto pause = std::chrono::milliseconds(pause_ms) * (tasks + i) / tasks;
        executor.spawn(Worker(i, steps, pause, start, !quiet, polls[static_cast<std::size_t>(i)]));
    }
    const rt::RunStats stats = executor.run();

    const double wall = stopwatch.wall_seconds();
    const double cpu = stopwatch.cpu_seconds();
    std::printf("\n%-6s %16s\n", "task", "polls");
    for (int i = 0; i < tasks; ++i) {
        std::printf("%-6d %16s\n", i,
                    support::with_commas(polls[static_cast<std::size_t>(i)]).c_str());
    }
    std::printf("\n%s polls in all to complete %s tasks of %d steps each.\n",
                support::with_commas(stats.polls).c_str(),
                support::with_commas(stats.completed).c_str(), steps);
    std::printf("wall time %.2f s, CPU time %.2f s (%.0f%% of one core).\n", wall, cpu,
                wall > 0 ? 100.0 * cpu / wall : 0.0);
    std::printf(
        "Every task spent its time waiting, yet the executor kept a core busy polling them: it\n"
        "has no way to know when a task can progress. Chapter 2 gives the waker that job.\n");
    return 0;
}
