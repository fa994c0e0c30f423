// Exercise 01-03 (solution): SleepingExecutor, chapter 1's executor taught to stop spinning.
// Its sleep futures tell it their deadlines; after a round in which every task is waiting for
// a deadline, it sleeps until the earliest one instead of polling everyone again at once.
//
// Guarantees: tasks are polled once per round, in FIFO order; a finished task is destroyed at
// once and never polled again; the executor sleeps only when every queued task was polled in
// the round and reported a deadline, never with no task, never for a deadline already passed.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <thread>
#include <utility>

#include "rt/deadline.hpp"
#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt {

/// What the executor needs of a clock: the time now, and a way to block until a time point.
/// The real one is RealClock; tests give a fake one whose sleep_until only moves its time on.
template <class C>
concept SleepClock = requires(C& clock, const typename C::time_point& t) {
    { clock.now() } -> std::same_as<typename C::time_point>;
    { clock.sleep_until(t) } -> std::same_as<void>;
};

/// steady_clock, and a sleep that blocks the calling thread until the time point has passed.
struct RealClock {
    using time_point = std::chrono::steady_clock::time_point;
    time_point now() const { return std::chrono::steady_clock::now(); }
    void sleep_until(time_point t) const { std::this_thread::sleep_until(t); }
};

template <SleepClock C = RealClock>
class SleepingExecutor {
public:
    using time_point = typename C::time_point;

    /// What a call to run() did.
    struct Stats {
        std::uint64_t polls = 0;      // calls to poll() on any task
        std::uint64_t completed = 0;  // tasks that returned ready
        std::uint64_t sleeps = 0;     // calls to the clock's sleep_until
        std::uint64_t rounds = 0;     // rounds: one poll of every task queued when it began
    };

    /// A future that is ready once the clock reaches its deadline. While it is pending it
    /// reports its deadline to the executor that made it, which is how that executor knows it
    /// may sleep. Poll it only inside that executor's tasks.
    class Sleep {
    public:
        using Output = void;

        Poll<void> poll(Context& cx) {
            if (executor_->clock_.now() >= deadline_) return ready;
            // The executor polls every task again after its sleep: reporting the deadline is
            // this executor's way of being told when. A waker would say it for any event; the
            // no-op waker of this chapter cannot.
            (void)cx;
            executor_->report_deadline(deadline_);
            return pending;
        }

        time_point deadline() const noexcept { return deadline_; }

    private:
        friend class SleepingExecutor;
        Sleep(SleepingExecutor& executor, time_point deadline)
            : executor_(&executor), deadline_(deadline) {}

        SleepingExecutor* executor_;  // the executor to report to; it outlives its tasks
        time_point deadline_;
    };

    /// The value of run()'s round limit that means "no limit".
    static constexpr std::uint64_t no_round_limit = std::numeric_limits<std::uint64_t>::max();

    explicit SleepingExecutor(C clock = C()) : clock_(std::move(clock)) {}
    SleepingExecutor(const SleepingExecutor&) = delete;  // sleeps point at their executor
    SleepingExecutor& operator=(const SleepingExecutor&) = delete;

    /// Queue a future to be run by run(), also from inside a running task. Its output is void:
    /// a task hands its results back through state it shares with its caller.
    template <Future F>
    requires std::same_as<typename F::Output, void>
    void spawn(F future) { tasks_.push_back(box_future(std::move(future))); }

    /// A future that is ready `duration` after this call, on this executor's clock (the
    /// deadline saturates instead of overflowing, rt/deadline.hpp).
    Sleep sleep(std::chrono::nanoseconds duration) {
        return Sleep(*this, saturating_add(clock_.now(), duration));
    }

    /// A future that is ready at `deadline`, on this executor's clock.
    Sleep sleep_until(time_point deadline) { return Sleep(*this, deadline); }

    /// Run rounds until no task is left, or until `max_rounds` rounds have run (the tasks
    /// still pending then stay queued). A round polls, in FIFO order, every task queued when
    /// it began; a task spawned during a round gets its first poll in the next one. After a
    /// round in which every queued task answered pending and reported a deadline, the
    /// executor sleeps until the earliest of those deadlines, unless it has passed already.
    Stats run(std::uint64_t max_rounds = no_round_limit) {
        Stats stats;
        Waker waker = noop_waker();
        Context cx(waker);
        while (!tasks_.empty() && stats.rounds < max_rounds) {
            ++stats.rounds;
            std::optional<time_point> earliest;  // the earliest deadline reported this round
            std::size_t waiting_for_time = 0;    // tasks pending that reported a deadline
            for (std::size_t left = tasks_.size(); left > 0; --left) {
                BoxFuture<void> task = std::move(tasks_.front());
                tasks_.pop_front();
                reported_.reset();
                ++stats.polls;
                if (task->poll(cx).is_ready()) {
                    ++stats.completed;
                    continue;  // `task` is destroyed here, before the next poll
                }
                if (reported_) {
                    ++waiting_for_time;
                    if (!earliest || *reported_ < *earliest) earliest = reported_;
                }
                tasks_.push_back(std::move(task));
            }
            // A task that reported no deadline may progress at once, and a task spawned in
            // this round has not been polled yet: either is a reason to go round again. The
            // count covers both, because neither adds to waiting_for_time.
            if (tasks_.empty() || waiting_for_time != tasks_.size()) continue;
            // Polls take time: the earliest deadline may have passed during the round.
            if (clock_.now() >= *earliest) continue;
            clock_.sleep_until(*earliest);
            ++stats.sleeps;
        }
        return stats;
    }

    /// Tasks spawned and not yet completed.
    std::size_t pending_tasks() const noexcept { return tasks_.size(); }

    /// The clock this executor reads and sleeps on.
    C& clock() noexcept { return clock_; }

private:
    /// Called by a Sleep that answers pending: the task being polled waits for `deadline`.
    /// Keeps the earliest deadline reported since run() last reset reported_.
    void report_deadline(time_point deadline) {
        if (!reported_ || deadline < *reported_) reported_ = deadline;
    }

    C clock_;
    std::optional<time_point> reported_;  // earliest deadline reported during the current poll
    // Declared last, so destroyed first: a task's destructor may still use the clock.
    std::deque<BoxFuture<void>> tasks_;  // FIFO: every task gets a turn before any gets two
};

}  // namespace rt
