// What a runtime records about its tasks (new in chapter 10), when asked to
// (MetricsOptions): per-task statistics, warnings about tasks that misbehave, and a timeline.
// tokio-console's instrumentation, built into the runtime.
//
// A Metrics belongs to a runtime's Scheduler (rt/scheduler.hpp), which outlives every task,
// so a task's TaskStats can always reach it. With everything off the runtime has no Metrics at
// all, tasks have no TaskStats, and each hook is one test of a null pointer.
//
// The hooks, and who calls them:
//  - track / retire / forget: a task is made (make_task, rt/executor.hpp) / completes or is
//    cancelled (Task::finish: it leaves the live tasks, its counts join the finished tasks'
//    sums) / is freed (~Task, which may come much later: a JoinHandle or a Waker may hold it,
//    or the worker whose list holds it may be parked);
//  - poll_started / poll_ended: around every poll, by the thread that polls;
//  - woken: every wake from outside the task's poll (Task::schedule, rt/scheduler.hpp); a
//    self-wake is counted by poll_ended, off the hot path of yield_now;
//  - check_lost_waker: after a pending poll, and when a task's last Waker goes.
//
// The warnings (WarningKind), each given once per task:
//  - slow_poll: one poll took longer than `slow_poll` (50 us): every other task queued on that
//    worker waited as long. blocking_poll: longer than `blocking_poll` (10 ms), a call that
//    blocks (a sleep, a read of a disk, a lock held long) inside a task;
//  - lost_waker: the task is pending and no Waker for it is left anywhere: nothing can ever
//    wake it, and it will wait for ever (a future that returned pending without keeping the
//    waker). Checked when the count of its wakers reaches 0 and the task is neither queued
//    nor running, and after a pending poll that left the count at 0 and did not wake it. The
//    count is read after the task's state, so a wake by value that dropped the last waker is
//    seen (it set SCHEDULED before dropping its reference: rt/scheduler.hpp);
//  - self_wakes: more than `self_wake_share` of the task's wakes (and at least
//    `self_wake_min` of them) were its own, made during its poll: a task that yields in a
//    loop instead of waiting for something. Checked when the task completes, and by
//    check_self_wakes for the tasks still alive (a snapshot does).
#pragma once

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rt/metrics/task_stats.hpp"
#include "rt/metrics/trace.hpp"

namespace rt {

enum class WarningKind : std::uint8_t { slow_poll, blocking_poll, lost_waker, self_wakes };
inline constexpr std::size_t warning_kinds = 4;

/// How a warning is named in text and in the JSON snapshot.
inline const char* warning_name(WarningKind kind) noexcept {
    switch (kind) {
        case WarningKind::slow_poll:
            return "slow_poll";
        case WarningKind::blocking_poll:
            return "blocking_poll";
        case WarningKind::lost_waker:
            return "lost_waker";
        case WarningKind::self_wakes:
            return "self_wakes";
    }
    return "unknown";
}

/// One warning: which task, and the measure that crossed the line (a poll's duration in ns,
/// or the share of self-wakes in percent; 0 for a lost waker).
struct Warning {
    WarningKind kind;
    std::uint64_t task;
    std::string name;
    std::int64_t value;
    std::string message;
};

/// What a runtime records beyond its workers' counters, which it always keeps.
struct MetricsOptions {
    bool tasks = false;  // per-task statistics and the warnings
    /// Where to write the timeline (rt/metrics/trace.hpp) when the runtime shuts down, after
    /// its workers stopped; empty: no timeline. Implies tasks.
    std::string trace_file;
    std::chrono::nanoseconds slow_poll = std::chrono::microseconds(50);
    std::chrono::nanoseconds blocking_poll = std::chrono::milliseconds(10);
    double self_wake_share = 0.5;
    std::uint64_t self_wake_min = 10;
    std::size_t trace_capacity = std::size_t{1} << 20;  // events kept, in all (32 bytes each)
    /// Called with each warning as it is found, on the thread that found it (a worker, in
    /// the middle of its loop: keep it short). Warnings are kept for the snapshot either way.
    std::function<void(const Warning&)> on_warning;

    bool any() const noexcept { return tasks || !trace_file.empty(); }
};

/// One task's statistics at the moment of a snapshot.
struct TaskSnapshot {
    std::uint64_t id = 0;
    std::string name;
    const char* state = "idle";  // idle | scheduled | running
    std::uint64_t polls = 0;
    std::int64_t busy_ns = 0;
    std::int64_t longest_poll_ns = 0;
    std::int64_t scheduled_ns = 0;
    std::uint64_t wakes = 0;
    std::uint64_t self_wakes = 0;
    std::int64_t wakers = 0;
    std::int64_t age_ns = 0;
};

/// The sums of the tasks that have completed (their own statistics are gone with them).
struct FinishedTasks {
    std::uint64_t count = 0;
    std::uint64_t polls = 0;
    std::int64_t busy_ns = 0;
};

namespace detail {

/// The lane of the timeline this thread records in (rt/metrics/trace.hpp), for the Metrics
/// it belongs to: set by each worker thread, and by the executor while it runs.
inline thread_local const void* lane_owner = nullptr;
inline thread_local std::uint32_t lane_index = 0;

class Metrics {
public:
    /// For a runtime of `workers` workers (the executor: 1).
    Metrics(MetricsOptions options, std::uint32_t workers, bool executor)
        : options_(std::move(options)), executor_(executor), started_ns_(now_ns()) {
        if (!options_.trace_file.empty()) {
            options_.tasks = true;
            trace_ = std::make_unique<Trace>(workers, options_.trace_capacity, started_ns_);
        }
        slow_ns_ = options_.slow_poll.count();
        blocking_ns_ = options_.blocking_poll.count();
    }

    const MetricsOptions& options() const noexcept { return options_; }
    std::int64_t started_ns() const noexcept { return started_ns_; }

    // --- hooks --------------------------------------------------------------------------
    // Never inlined: with task statistics off they are never called, and their bodies, inlined
    // into the workers' loop and the spawn, made those slower anyway (chapter 10's "Measured").

    /// A new task: its statistics, linked into the list of live ones.
    [[gnu::noinline]] TaskStats* track(Task* task, const std::source_location& site,
                                       std::string name) {
        std::lock_guard lock(mutex_);
        auto* stats = new TaskStats(++last_id_, site, std::move(name), task);
        stats->next = live_;
        if (live_ != nullptr) live_->prev = stats;
        live_ = stats;
        if (trace_) names_.emplace(stats->id, stats->name());
        return stats;
    }

    /// A task completed or was cancelled: out of the live tasks, its counts into the finished
    /// tasks' sums. Its stats stay until the task is freed: a Waker dropped later counts in them.
    [[gnu::noinline]] void retire(TaskStats* stats) noexcept {
        std::lock_guard lock(mutex_);
        if (stats->retired.load(std::memory_order_relaxed)) return;
        stats->retired.store(true, std::memory_order_release);
        if (stats->prev != nullptr) stats->prev->next = stats->next;
        if (stats->next != nullptr) stats->next->prev = stats->prev;
        if (live_ == stats) live_ = stats->next;
        finished_.count += 1;
        finished_.polls += stats->polls.get();
        finished_.busy_ns += stats->busy_ns.get();
    }

    /// The task is freed.
    [[gnu::noinline]] void forget(TaskStats* stats) noexcept {
        // Retired already (Task::finish), unless the task was freed without finishing: then
        // no lock at all. acquire: pairs with retire's release.
        if (!stats->retired.load(std::memory_order_acquire)) retire(stats);
        delete stats;
    }

    /// Before a poll: its start, and the time the task waited in a queue since its wake.
    [[gnu::noinline]] std::int64_t poll_started(TaskStats* stats) noexcept {
        const std::int64_t start = now_ns();
        const std::int64_t woken = stats->scheduled_at.exchange(0, std::memory_order_relaxed);
        if (woken != 0 && woken < start) stats->scheduled_ns.add(start - woken);
        return start;
    }

    // snippet-begin: poll-ended
    /// After a poll that began at `start`. `completed`: the future is done; `woke_itself`: it
    /// woke itself during the poll (once or more: one self-wake) and is queued again now (its
    /// wait starts here, and the clock read for the poll's end serves for it).
    [[gnu::noinline]] void poll_ended(TaskStats* stats, std::int64_t start, bool completed,
                                      bool woke_itself) {
        const std::int64_t end = now_ns();
        const std::int64_t took = end - start;
        if (woke_itself) {  // a self-wake, counted here rather than in the hot Task::schedule
            stats->wakes.fetch_add(1, std::memory_order_relaxed);
            stats->self_wakes.fetch_add(1, std::memory_order_relaxed);
            stats->scheduled_at.store(end, std::memory_order_relaxed);
            if (trace_) record({TraceEvent::self_wake, stats->id, end, 0});
        }
        stats->busy_ns.add(took);
        if (took > stats->longest_ns.get()) stats->longest_ns.set(took);
        stats->polls.add_release(1);  // last: publishes the two above (task_stats.hpp)
        if (trace_) record({TraceEvent::poll, stats->id, start, took});
        if (took > blocking_ns_) {
            warn(stats, WarningKind::blocking_poll, took);
        } else if (took > slow_ns_) {
            warn(stats, WarningKind::slow_poll, took);
        }
        if (completed) check_self_wakes(stats);
    }
    // snippet-end: poll-ended

    /// A wake from outside the task's poll reached it; `queued` if this wake is the one that
    /// queues it. (A self-wake is counted by poll_ended.)
    [[gnu::noinline]] void woken(TaskStats* stats, bool queued) {
        stats->wakes.fetch_add(1, std::memory_order_relaxed);
        if (!queued && !trace_) return;
        const std::int64_t now = now_ns();
        if (queued) {
            std::int64_t none = 0;
            stats->scheduled_at.compare_exchange_strong(none, now, std::memory_order_relaxed);
        }
        if (trace_) record({TraceEvent::wake, stats->id, now, 0});
    }

    /// A worker stole `count` tasks from worker `victim`.
    [[gnu::noinline]] void stole(std::uint32_t victim, std::uint64_t count) {
        if (trace_) record({TraceEvent::steal, victim, now_ns(), static_cast<std::int64_t>(count)});
    }

    /// The lost-waker check (see the top of this file). `idle()` says whether the task is
    /// neither queued, nor running, nor complete; it is asked after the count is read.
    template <class Idle>
    [[gnu::noinline]] void check_lost_waker(TaskStats* stats, Idle idle) {
        if (closed_.load(std::memory_order_relaxed)) return;
        if (stats->wakers.load(std::memory_order_acquire) != 0 || !idle()) return;
        warn(stats, WarningKind::lost_waker, 0);
    }

    /// The runtime shuts down: wakers dropped from now on are dropped because their tasks
    /// are being cancelled, and are no lost wakers.
    void close() noexcept { closed_.store(true, std::memory_order_relaxed); }

    /// The self-wake check for one task.
    void check_self_wakes(TaskStats* stats) {
        const std::uint64_t wakes = stats->wakes.load(std::memory_order_relaxed);
        const std::uint64_t own = stats->self_wakes.load(std::memory_order_relaxed);
        if (wakes < options_.self_wake_min || wakes == 0) return;
        const double share = static_cast<double>(own) / static_cast<double>(wakes);
        if (share > options_.self_wake_share) {
            warn(stats, WarningKind::self_wakes, static_cast<std::int64_t>(share * 100));
        }
    }

    // --- reading ------------------------------------------------------------------------

    /// The live tasks' statistics, with the self-wake check run on each. `state_of` tells a
    /// task's state (it reads the task's state word, which this file does not know).
    template <class StateOf>
    std::vector<TaskSnapshot> tasks(StateOf state_of) {
        std::vector<TaskStats*> checked;
        std::vector<TaskSnapshot> all;
        std::lock_guard lock(mutex_);
        const std::int64_t now = now_ns();
        for (TaskStats* stats = live_; stats != nullptr; stats = stats->next) {
            TaskSnapshot task;
            task.id = stats->id;
            task.name = stats->name();
            task.polls = stats->polls.acquire();  // first (task_stats.hpp)
            task.state = state_of(stats->task);
            task.busy_ns = stats->busy_ns.get();
            task.longest_poll_ns = stats->longest_ns.get();
            task.scheduled_ns = stats->scheduled_ns.get();
            task.wakes = stats->wakes.load(std::memory_order_relaxed);
            task.self_wakes = stats->self_wakes.load(std::memory_order_relaxed);
            task.wakers = stats->wakers.load(std::memory_order_relaxed);
            task.age_ns = now - stats->spawned_at;
            all.push_back(std::move(task));
            if (all.back().wakes >= options_.self_wake_min) checked.push_back(stats);
        }
        // Under the lock, which keeps the stats alive: on_warning must not take a snapshot.
        for (TaskStats* stats : checked) check_self_wakes(stats);
        return all;
    }

    FinishedTasks finished() const {
        std::lock_guard lock(mutex_);
        return finished_;
    }

    /// The warnings given so far (the first `max_kept`), and how many of each kind.
    std::vector<Warning> warnings() const {
        std::lock_guard lock(warnings_mutex_);
        return warnings_;
    }
    std::array<std::uint64_t, warning_kinds> warning_counts() const {
        std::lock_guard lock(warnings_mutex_);
        return counts_;
    }
    static constexpr std::size_t max_kept = 1000;

    /// Shutdown, after the workers stopped: write the timeline, if one was asked for. A file
    /// that cannot be written is said on stderr: a destructor has nobody to throw to.
    void finish_trace() const {
        if (!trace_ || write_trace(options_.trace_file)) return;
        std::fprintf(stderr, "rt: could not write the timeline to %s: %s\n",
                     options_.trace_file.c_str(), std::strerror(errno));
    }

    /// Write the timeline to `path`. False, with errno, if the file could not be written.
    bool write_trace(const std::string& path) const {
        std::FILE* file = std::fopen(path.c_str(), "w");
        if (file == nullptr) return false;
        std::unordered_map<std::uint64_t, std::string> names;
        {
            std::lock_guard lock(mutex_);
            names = names_;
        }
        const bool written = trace_->write(file, names, executor_);
        return std::fclose(file) == 0 && written;
    }

    const Trace* trace() const noexcept { return trace_.get(); }

private:
    void record(TraceEvent event) {
        const std::uint32_t lane = lane_owner == this ? lane_index : trace_->other_lane();
        trace_->record(lane, event);
    }

    void warn(TaskStats* stats, WarningKind kind, std::int64_t value) {
        const auto bit = static_cast<std::uint8_t>(1u << static_cast<unsigned>(kind));
        if ((stats->warned.fetch_or(bit, std::memory_order_relaxed) & bit) != 0) return;
        Warning warning{kind, stats->id, stats->name(), value, message(kind, stats, value)};
        if (options_.on_warning) options_.on_warning(warning);
        std::lock_guard lock(warnings_mutex_);
        ++counts_[static_cast<std::size_t>(kind)];
        if (warnings_.size() < max_kept) warnings_.push_back(std::move(warning));
    }

    static std::string message(WarningKind kind, const TaskStats* stats, std::int64_t value) {
        const std::string who = "task " + std::to_string(stats->id) + " (" + stats->name() + ")";
        switch (kind) {
            case WarningKind::slow_poll:
                return who + " was polled for " + std::to_string(value / 1000) +
                       " us at once: the tasks queued behind it waited as long";
            case WarningKind::blocking_poll:
                return who + " blocked its worker for " + std::to_string(value / 1'000'000) +
                       " ms in one poll: a blocking call belongs on spawn_blocking";
            case WarningKind::lost_waker:
                return who + " is pending and no waker for it is left: nothing can wake it";
            case WarningKind::self_wakes:
                return who + " woke itself in " + std::to_string(value) +
                       "% of its wakes: it yields in a loop instead of waiting";
        }
        return who;
    }

    MetricsOptions options_;
    const bool executor_;
    const std::int64_t started_ns_;
    std::int64_t slow_ns_ = 0;
    std::int64_t blocking_ns_ = 0;
    std::unique_ptr<Trace> trace_;
    std::atomic<bool> closed_{false};

    mutable std::mutex mutex_;  // the live tasks, the finished sums, the names, the ids
    TaskStats* live_ = nullptr;
    FinishedTasks finished_;
    std::uint64_t last_id_ = 0;
    std::unordered_map<std::uint64_t, std::string> names_;  // every task's, for the timeline

    mutable std::mutex warnings_mutex_;
    std::vector<Warning> warnings_;
    std::array<std::uint64_t, warning_kinds> counts_{};
};

}  // namespace detail
}  // namespace rt
