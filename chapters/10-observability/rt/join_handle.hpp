// JoinHandle<T>: what spawn returns, a future of the spawned task's outcome. Awaiting it gives
// the task's value, or rethrows the exception the task ended with, or throws TaskAborted if
// the task was aborted (or its executor shut down) first. Dropping it detaches the task,
// which runs on; abort() cancels it.
//
// A handle is one reference to the task (rt/task.hpp), so the task's memory, and the outcome
// kept in it, live until both the executor and the handle are done with them. The outcome is
// handed over under the task's join mutex (the join protocol in rt/task.hpp), so a handle may
// be awaited from any task, on any thread.
#pragma once

#include <cassert>
#include <utility>

#include "rt/coop.hpp"
#include "rt/future.hpp"
#include "rt/task.hpp"

namespace rt {

// snippet-begin: join-handle
template <class T>
class JoinHandle {
public:
    using Output = T;

    /// Takes over one reference to `task`.
    explicit JoinHandle(detail::Joinable<T>* task) noexcept : task_(task) {}
    JoinHandle(JoinHandle&& other) noexcept : task_(std::exchange(other.task_, nullptr)) {}
    JoinHandle& operator=(JoinHandle&& other) noexcept {
        if (this != &other) {
            if (task_ != nullptr) task_->unref();
            task_ = std::exchange(other.task_, nullptr);
        }
        return *this;
    }
    /// Detach: the task runs on, and its outcome is destroyed with it.
    ~JoinHandle() {
        if (task_ != nullptr) task_->unref();
    }

    /// Ready with the task's value once it has one; rethrows its exception; throws
    /// TaskAborted if it was destroyed before completing. Pending, with cx's waker kept,
    /// until then.
    Poll<T> poll(Context& cx) {
        assert(task_ != nullptr && "poll of a moved-from JoinHandle");
        if (!coop::proceed(cx)) return pending;  // new in chapter 9: the budget (rt/coop.hpp)
        Poll<T> outcome = task_->poll_join(cx);
        if (outcome.is_ready()) coop::spend();
        return outcome;
    }

    /// Cancel the task: at its next turn the executor destroys its future instead of polling
    /// it, so a coroutine's locals are destroyed where it is suspended. Returns at once; the
    /// handle then completes with TaskAborted. Too late if the task has completed already.
    void abort() {
        assert(task_ != nullptr && "abort through a moved-from JoinHandle");
        task_->abort();
    }

    /// The task has an outcome (value, exception, or aborted) waiting for this handle.
    bool is_finished() const {
        assert(task_ != nullptr && "is_finished on a moved-from JoinHandle");
        return task_->has_outcome();
    }

private:
    detail::Joinable<T>* task_;  // one reference; null when moved from
};
// snippet-end: join-handle

}  // namespace rt
