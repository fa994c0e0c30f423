// Exercise 02-01's program: a wake storm on an executor with several workers. For DURATION ms,
// THREADS threads wake each of TASKS tasks as fast as they can while WORKERS worker threads pop
// the tasks from one shared queue and poll them. The table shows how few queue entries millions
// of wakes became, how many polls were woken during the poll and queued again by their worker,
// and that no two polls of one task ever overlapped. Every task is freed at the end.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
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

/// What the program learns about one task. The atomics are written by any thread; the plain
/// fields only inside a poll of the task, which the task's state word keeps to one worker at a
/// time and orders from one poll to the next. main reads everything after joining every thread.
struct TaskStats {
    std::atomic<std::uint64_t> wakes{0};     // wake_by_ref calls, added by each storm thread
    std::atomic<std::uint64_t> pushes{0};    // entries pushed into the ready queue, by anyone
    std::atomic<std::uint64_t> requeued{0};  // of those, pushed by a worker after end_poll
    std::atomic<bool> polling{false};        // a poll of this task is running
    std::atomic<std::uint64_t> overlaps{0};  // polls that began while another was running
    std::uint64_t polls = 0;                 // inside polls only
    std::uint64_t seen = 0;                  // inside polls only: `wakes` as the last poll saw it
};

/// A task of this program: what it "runs" is a pause, and it reports its queue entries.
class StormTask final : public wake_once::Task {
public:
    StormTask(wake_once::ReadyQueue& queue, TaskStats& stats, std::atomic<int>& freed)
        : Task(queue), stats(stats), freed_(freed) {}

    TaskStats& stats;  // owned by main, outlives the task

private:
    ~StormTask() override { freed_.fetch_add(1); }
    std::atomic<int>& freed_;  // owned by main: how many tasks were freed
};

/// The workers' shared ready queue; a worker with nothing to do sleeps on it.
class SharedQueue final : public wake_once::ReadyQueue {
public:
    void push(wake_once::Task* task) override {
        static_cast<StormTask*>(task)->stats.pushes.fetch_add(1);
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

    /// No more wakes will come: pop() returns nullptr once the queue is empty. A worker still
    /// polling may push its task again; it pops that entry itself before it stops.
    void close() {
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
        }
        ready_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;       // a task was pushed, or the queue was closed
    std::deque<wake_once::Task*> tasks_;  // each entry owns one reference
    bool closed_ = false;
};

/// A worker: pop, begin_poll, "poll" (a busy pause, during which wakes keep coming), end_poll,
/// and either push the task again (handing over the entry's reference) or release the entry.
/// Runs until the queue is closed and empty.
void run_worker(SharedQueue& queue, std::chrono::microseconds poll_time) {
    while (wake_once::Task* task = queue.pop()) {
        if (!task->begin_poll()) {
            task->unref();
            continue;
        }
        TaskStats& stats = static_cast<StormTask*>(task)->stats;
        if (stats.polling.exchange(true)) stats.overlaps.fetch_add(1);
        ++stats.polls;
        stats.seen = stats.wakes.load();  // what the poll's "event source" says
        const auto until = Clock::now() + poll_time;
        while (Clock::now() < until) {
            // the future's work: wakes that arrive now must not queue the task, only note it
        }
        stats.polling.store(false);
        if (task->end_poll() == wake_once::AfterPoll::requeue) {
            stats.requeued.fetch_add(1);
            queue.push(task);
        } else {
            task->unref();
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    int workers = 2;
    int threads = 4;
    int tasks = 3;
    int duration_ms = 500;
    int poll_us = 20;

    CLI::App app{
        "Exercise 02-01: a task state for several workers. For DURATION ms, THREADS threads wake "
        "each of TASKS tasks in turn, as fast as they can, while WORKERS worker threads pop the "
        "tasks from one shared queue and poll them (a poll is a busy pause of POLL_US "
        "microseconds). Prints, per task, the wakes, the queue entries they became, the polls "
        "and how many polls overlapped (none may); then checks that no wake was lost and that "
        "every task was freed. Exits 1 if a check fails.",
        "solution-02-01"};
    app.add_option("-w,--workers", workers, "worker threads that pop and poll the tasks")
        ->check(CLI::Range(1, 16))
        ->capture_default_str();
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

    SharedQueue queue;
    std::atomic<int> freed{0};
    std::vector<TaskStats> stats(static_cast<std::size_t>(tasks));
    std::vector<StormTask*> owned;  // main's reference to each task
    for (TaskStats& task_stats : stats) owned.push_back(new StormTask(queue, task_stats, freed));

    const auto start = Clock::now();
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w) {
        pool.emplace_back(run_worker, std::ref(queue), std::chrono::microseconds(poll_us));
    }
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
                        for (const rt::Waker& waker : mine) waker.wake_by_ref();
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
    for (auto& thread : pool) thread.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

    std::printf("%d worker%s, %d thread%s waking %d task%s for %d ms, polls of %d us; %.2f s\n\n",
                workers, workers == 1 ? "" : "s", threads, threads == 1 ? "" : "s", tasks,
                tasks == 1 ? "" : "s", duration_ms, poll_us, seconds);
    std::printf("%-5s %13s %11s %11s %11s %9s %16s\n", "task", "wakes", "queued", "requeued",
                "polls", "overlaps", "seen, last poll");
    std::uint64_t all_wakes = 0;
    std::uint64_t all_pushes = 0;
    std::uint64_t all_requeued = 0;
    std::uint64_t all_overlaps = 0;
    bool none_lost = true;
    for (std::size_t k = 0; k < stats.size(); ++k) {
        const TaskStats& s = stats[k];
        all_wakes += s.wakes.load();
        all_pushes += s.pushes.load();
        all_requeued += s.requeued.load();
        all_overlaps += s.overlaps.load();
        none_lost = none_lost && s.seen == s.wakes.load();
        std::printf(
            "%-5zu %13s %11s %11s %11s %9s %16s\n", k, support::with_commas(s.wakes.load()).c_str(),
            support::with_commas(s.pushes.load()).c_str(),
            support::with_commas(s.requeued.load()).c_str(), support::with_commas(s.polls).c_str(),
            support::with_commas(s.overlaps.load()).c_str(), support::with_commas(s.seen).c_str());
    }
    std::printf("%-5s %13s %11s %11s %11s %9s\n", "all", support::with_commas(all_wakes).c_str(),
                support::with_commas(all_pushes).c_str(),
                support::with_commas(all_requeued).c_str(), "",
                support::with_commas(all_overlaps).c_str());

    // The workers are done: finish every task (a later wake would queue nothing) and drop
    // main's references. Nothing else holds one, so every task is freed now.
    for (StormTask* task : owned) {
        task->finish();
        task->unref();
    }
    std::printf(
        "\nA wake that finds its task queued or being polled is one atomic OR and nothing else:\n"
        "%s wakes became %s queue entries, each polled once. %s of them were pushed by a\n"
        "worker whose task was woken during its poll (the wake itself queued nothing).\n"
        "Polls of one task that overlapped: %s. The last poll of each task saw every wake made\n"
        "before it (no wake lost): %s. Tasks freed after the storm: %d of %d.\n",
        support::with_commas(all_wakes).c_str(), support::with_commas(all_pushes).c_str(),
        support::with_commas(all_requeued).c_str(), support::with_commas(all_overlaps).c_str(),
        none_lost ? "yes" : "NO", freed.load(), tasks);
    return none_lost && all_overlaps == 0 && freed.load() == tasks ? 0 : 1;
}
