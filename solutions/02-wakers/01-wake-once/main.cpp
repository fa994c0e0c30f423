// Exercise 02-01's program: a wake storm. For DURATION ms, THREADS threads wake each of TASKS
// tasks as fast as they can while an executor thread pops and polls them; the table shows how
// few queue entries millions of wakes became, one poll each. Every task is freed at the end.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <wake_once.hpp>

#include "rt/waker.hpp"
#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What the program learns about one task. Written by the executor thread (polls) and the
/// storm threads (wakes); read by main after joining them all.
struct TaskStats {
    std::atomic<std::uint64_t> wakes{0};   // wake_by_ref calls, added by each storm thread
    std::atomic<std::uint64_t> queued{0};  // entries pushed into the ready queue
    std::uint64_t polls = 0;               // executor thread only
    std::uint64_t seen = 0;                // executor thread only: `wakes` as the last poll saw it
};

/// A task of this program: what it "runs" is a pause, and it reports its queue entries.
class StormTask final : public wake_once::Task {
public:
    StormTask(wake_once::ReadyQueue& queue, int id, TaskStats& stats, std::atomic<int>& freed)
        : Task(queue), id(id), stats(stats), freed_(freed) {}

    const int id;
    TaskStats& stats;  // owned by main, outlives the task

private:
    ~StormTask() override { freed_.fetch_add(1); }
    std::atomic<int>& freed_;  // owned by main: how many tasks were freed
};

/// A ready queue the executor thread sleeps on; it reports each push to the task's stats.
class BlockingQueue final : public wake_once::ReadyQueue {
public:
    void push(wake_once::Task* task) override {
        static_cast<StormTask*>(task)->stats.queued.fetch_add(1);
        {
            std::lock_guard lock(mutex_);
            tasks_.push_back(task);
        }
        ready_.notify_one();
    }

    /// The next task, waiting for one; nullptr once closed and empty.
    wake_once::Task* pop() {
        std::unique_lock lock(mutex_);
        ready_.wait(lock, [&] { return !tasks_.empty() || closed_; });
        if (tasks_.empty()) return nullptr;
        wake_once::Task* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    /// No more wakes will come: pop() returns nullptr once the queue is empty.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_one();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;       // a task was pushed, or the queue was closed
    std::deque<wake_once::Task*> tasks_;  // each entry owns one reference
    bool closed_ = false;
};

/// The executor: pop, begin_poll, "poll" (a busy pause, during which wakes keep coming), and
/// release the entry's reference. Runs until the queue is closed and empty.
void run_executor(BlockingQueue& queue, std::chrono::microseconds poll_time) {
    while (wake_once::Task* task = queue.pop()) {
        if (task->begin_poll()) {
            TaskStats& stats = static_cast<StormTask*>(task)->stats;
            ++stats.polls;
            stats.seen = stats.wakes.load();  // what the poll's "event source" says
            const auto until = Clock::now() + poll_time;
            while (Clock::now() < until) {
                // the future's work: wakes that arrive now must queue the task again
            }
        }
        task->unref();
    }
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 4;
    int tasks = 3;
    int duration_ms = 500;
    int poll_us = 20;

    CLI::App app{
        "Exercise 02-01: wake that never queues a task twice. For DURATION ms, THREADS threads "
        "wake each of TASKS tasks in turn, as fast as they can, while an executor thread pops the "
        "tasks and polls them (a poll is a busy pause of POLL_US microseconds). Prints, per task, "
        "the wakes, the queue entries they became, and the polls; then checks that every task "
        "was freed.",
        "solution-02-01"};
    app.add_option("-t,--threads", threads, "threads that wake the tasks")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("-k,--tasks", tasks, "tasks to wake")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("-d,--duration-ms", duration_ms, "how long the storm lasts, in milliseconds")
        ->check(CLI::Range(1, 60'000))
        ->capture_default_str();
    app.add_option("-p,--poll-us", poll_us, "how long one poll takes, in microseconds")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    BlockingQueue queue;
    std::atomic<int> freed{0};
    std::vector<TaskStats> stats(static_cast<std::size_t>(tasks));
    std::vector<StormTask*> owned;  // main's reference to each task
    for (int i = 0; i < tasks; ++i) {
        owned.push_back(new StormTask(queue, i, stats[static_cast<std::size_t>(i)], freed));
    }

    const auto start = Clock::now();
    std::thread executor(run_executor, std::ref(queue), std::chrono::microseconds(poll_us));
    {
        std::vector<rt::Waker> task_wakers;
        for (StormTask* task : owned) task_wakers.push_back(task->waker());
        const auto end = Clock::now() + std::chrono::milliseconds(duration_ms);
        std::vector<std::thread> storm;
        for (int t = 0; t < threads; ++t) {
            // Each thread gets its own clones: a Waker is one reference, shared by nobody.
            storm.emplace_back([mine = task_wakers, &stats, end] {
                std::vector<std::uint64_t> wakes(mine.size(), 0);
                while (Clock::now() < end) {
                    for (int round = 0; round < 256; ++round) {
                        for (std::size_t k = 0; k < mine.size(); ++k) mine[k].wake_by_ref();
                    }
                    for (std::uint64_t& n : wakes) n += 256;
                }
                // Count this thread's wakes, then wake once more: a poll after that last wake
                // must follow, and see every wake counted, or a wake was lost.
                for (std::size_t k = 0; k < mine.size(); ++k) {
                    stats[k].wakes.fetch_add(wakes[k] + 1);
                    mine[k].wake_by_ref();
                }
            });
        }
        for (auto& thread : storm) thread.join();
    }  // every waker is dropped here
    queue.close();
    executor.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    std::printf("%d thread%s waking %d task%s for %d ms, polls of %d us; done in %.2f s\n\n",
                threads, threads == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s", duration_ms,
                poll_us, seconds);
    std::printf("%-6s %14s %14s %14s %22s\n", "task", "wakes", "queued", "polls",
                "wakes seen, last poll");
    std::uint64_t all_wakes = 0;
    std::uint64_t all_queued = 0;
    bool none_lost = true;
    for (std::size_t k = 0; k < stats.size(); ++k) {
        all_wakes += stats[k].wakes.load();
        all_queued += stats[k].queued.load();
        none_lost = none_lost && stats[k].seen == stats[k].wakes.load();
        std::printf("%-6zu %14s %14s %14s %22s\n", k,
                    support::with_commas(stats[k].wakes.load()).c_str(),
                    support::with_commas(stats[k].queued.load()).c_str(),
                    support::with_commas(stats[k].polls).c_str(),
                    support::with_commas(stats[k].seen).c_str());
    }
    std::printf("%-6s %14s %14s\n", "all", support::with_commas(all_wakes).c_str(),
                support::with_commas(all_queued).c_str());

    // The executor is done: finish every task (a later wake would queue nothing) and drop
    // main's references. Nothing else holds one, so every task is freed now.
    for (StormTask* task : owned) {
        task->finish();
        task->unref();
    }
    std::printf(
        "\nA wake that finds its task already queued is one atomic OR and nothing else: %s wakes\n"
        "became %s queue entries (a wake that pushed every time would have made %s), and each\n"
        "entry was polled once. Wakes that came while a task was being polled queued it again:\n"
        "the last poll of each task saw every wake made before it (no wake lost): %s.\n"
        "Tasks freed after the storm: %d of %d.\n",
        support::with_commas(all_wakes).c_str(), support::with_commas(all_queued).c_str(),
        support::with_commas(all_wakes).c_str(), none_lost ? "yes" : "NO", freed.load(), tasks);
    return none_lost && freed.load() == tasks ? 0 : 1;
}
