// Chapter 1's executor: a queue of boxed futures and a loop that polls them in turn. It is
// the simplest executor that runs many futures concurrently on one thread, and it is
// correct: every future is polled until it is ready.
//
// What it leaves out, on purpose: it never sleeps. The waker it hands out does nothing, so it
// cannot know which future is able to progress; it polls every pending future again and
// again, and a future waiting for something far away is polled millions of times. Chapter 2
// gives wakers a job and lets the executor sleep.
#pragma once

#include <concepts>
#include <cstdint>
#include <deque>
#include <utility>

#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt {

/// What a call to Executor::run did, so the cost of busy polling can be shown.
struct RunStats {
    std::uint64_t polls = 0;      // calls to poll() on any task
    std::uint64_t completed = 0;  // tasks that returned ready
};

class Executor {
public:
    Executor() = default;
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    // snippet-begin: spawn
    /// Queue a future to be run by run(). Its output must be void: a task is run for its
    /// effects, and a result is handed back through state the future shares with its caller.
    template <Future F>
    requires std::same_as<typename F::Output, void>
    void spawn(F future) { tasks_.push_back(box_future(std::move(future))); }
    // snippet-end: spawn

    // snippet-begin: run
    /// Poll every queued task until all are ready. A task that answers pending goes to the
    /// back of the queue and is polled again on the next round, whether or not anything
    /// happened that could let it progress.
    RunStats run() {
        RunStats stats;
        Waker waker = noop_waker();
        Context cx(waker);
        while (!tasks_.empty()) {
            BoxFuture<void> task = std::move(tasks_.front());
            tasks_.pop_front();
            ++stats.polls;
            if (task->poll(cx).is_ready()) {
                ++stats.completed;  // the task is destroyed here, at the end of the iteration
            } else {
                tasks_.push_back(std::move(task));
            }
        }
        return stats;
    }
    // snippet-end: run

    /// Tasks spawned and not yet completed.
    std::size_t pending_tasks() const noexcept { return tasks_.size(); }

private:
    std::deque<BoxFuture<void>> tasks_;  // FIFO: every task gets a turn before any gets two
};

}  // namespace rt
