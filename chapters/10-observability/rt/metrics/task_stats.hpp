// One task's statistics (new in chapter 10), kept only when the runtime was asked for them
// (MetricsOptions::tasks, rt/metrics/metrics.hpp): otherwise a task's `stats` pointer is null,
// and every hook of the runtime costs a test of that pointer.
//
// Who writes what, and why each field is an atomic:
//  - the poll's fields (polls, busy time, longest poll, time scheduled) are written by the
//    worker polling the task. Polls of one task never overlap, and each happens-before the
//    next (the task's state word, rt/task.hpp), so a relaxed load and store is a correct
//    increment; the atomics are there for the readers: a snapshot reads them while a worker
//    writes them, and a plain field would be a data race;
//  - wakes come from any thread at any time: fetch_add;
//  - `wakers` counts the task's Waker objects alive (clones made, minus clones dropped or woken
//    by value); the poll's borrowed waker (Task::WakerRef) is not one of them. It drops to 0
//    only when nothing in the program can wake the task any more: that is the lost waker
//    (rt/metrics/metrics.hpp, Metrics::check_lost_waker, says when it is reported);
//  - `scheduled_at` is the time of the wake that queued the task (0: not queued), set by
//    that wake, taken by the next poll, which adds the wait to `scheduled_ns`: the time the
//    task spent ready but not running, the runtime's queueing delay. A task that woke itself
//    waits from the end of its poll; one woken by another thread during its poll, from that
//    wake (it could not run before the poll ended, so that wait is slightly overcounted).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

namespace rt::detail {

class Task;
class Scheduler;

/// Nanoseconds on the steady clock, the unit of every time the metrics keep.
inline std::int64_t now_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

/// A task's default name: the file (without its folders) and line of its spawn.
inline std::string site_name(const std::source_location& site) {
    const std::string_view file = site.file_name();
    const std::size_t slash = file.find_last_of('/');
    return std::string(slash == std::string_view::npos ? file : file.substr(slash + 1)) + ":" +
           std::to_string(site.line());
}

/// A count one thread at a time writes (with happens-before between the writers) and any
/// thread reads: a relaxed load and store, not a read-modify-write.
template <class T>
class Gauge {
public:
    void add(T n) noexcept { set(get() + n); }
    void set(T n) noexcept { value_.store(n, std::memory_order_relaxed); }
    T get() const noexcept { return value_.load(std::memory_order_relaxed); }
    /// add, and publish what this thread wrote before: a reader that `acquire`s the new value
    /// sees those writes too.
    void add_release(T n) noexcept { value_.store(get() + n, std::memory_order_release); }
    T acquire() const noexcept { return value_.load(std::memory_order_acquire); }

private:
    std::atomic<T> value_{0};
};

struct TaskStats {
    TaskStats(std::uint64_t id, std::source_location site, std::string given_name, Task* task)
        : id(id), site(site), given_name(std::move(given_name)), task(task), spawned_at(now_ns()) {}

    /// The name given at spawn, or the spawn's file:line, made when asked for (a snapshot, a
    /// warning), not at every spawn.
    std::string name() const { return given_name.empty() ? site_name(site) : given_name; }

    /// The warnings already given for this task (one of each kind at most): bits of
    /// 1 << WarningKind.
    std::atomic<std::uint8_t> warned{0};

    const std::uint64_t id;           // 1, 2, 3... in spawn order, per runtime
    const std::source_location site;  // where it was spawned
    const std::string given_name;     // rt::named's, or empty
    Task* const task;                 // for its state, while the registry holds these stats
    const std::int64_t spawned_at;
    /// The task's scheduler: the task keeps a pointer to these stats where it kept the pointer
    /// to its scheduler (Task::scheduler(), rt/task.hpp).
    Scheduler* scheduler = nullptr;

    // The poll's fields: the polling worker writes them, `polls` last, with release, so that a
    // snapshot that reads it first (acquire) sees the other fields of the same poll.
    Gauge<std::uint64_t> polls;
    Gauge<std::int64_t> busy_ns;       // total time inside poll
    Gauge<std::int64_t> longest_ns;    // the longest single poll
    Gauge<std::int64_t> scheduled_ns;  // total time queued, between a wake and its poll

    // Any thread.
    std::atomic<std::uint64_t> wakes{0};       // wakes that reached the task, self-wakes included
    std::atomic<std::uint64_t> self_wakes{0};  // of which made during the task's own poll
    std::atomic<std::int64_t> wakers{0};       // Waker objects alive
    std::atomic<std::int64_t> scheduled_at{0};

    // The registry's list of live tasks (rt/metrics/metrics.hpp), under its mutex; `retired`
    // once the task has left it.
    TaskStats* prev = nullptr;
    TaskStats* next = nullptr;
    std::atomic<bool> retired{false};
};

}  // namespace rt::detail
