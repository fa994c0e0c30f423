// The ready queue: tasks that a waker scheduled, in wake order, and the place where the
// executor sleeps when there is nothing to run. Any thread may push; one executor pops.
//
// Guarantees: a task pushed is popped exactly once, or released (its reference dropped) when
// the queue is closed; push never blocks for long; pop_or_wait sleeps without burning CPU.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

#include "rt/task.hpp"

namespace rt::detail {

class ReadyQueue {
public:
    // snippet-begin: push
    /// Queue a task; the queue takes over the caller's reference. Wakes the executor if it
    /// sleeps. After close() the task is released instead: nobody will ever run it.
    void push(Task* task) {
        {
            std::lock_guard lock(mutex_);
            if (!closed_) {
                ++pushes_;
                tasks_.push_back(task);
                task = nullptr;
            }
        }
        if (task == nullptr) {
            ready_.notify_one();
        } else {
            task->unref();  // outside the lock: the last unref runs the task's destructor
        }
    }
    // snippet-end: push

    /// The next task, sleeping until there is one. Counts the sleeps in `parks`.
    Task* pop_or_wait(std::uint64_t& parks) {
        std::unique_lock lock(mutex_);
        if (tasks_.empty()) {
            ++parks;
            // The predicate is checked under the mutex that push holds, so a push between
            // "queue is empty" and "go to sleep" is never missed.
            ready_.wait(lock, [&] { return !tasks_.empty(); });
        }
        Task* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    /// How many times a task entered the queue, since the queue was made.
    std::uint64_t pushes() {
        std::lock_guard lock(mutex_);
        return pushes_;
    }

    /// The next task if one is ready, without waiting.
    Task* try_pop() {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) return nullptr;
        Task* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    /// Refuse further pushes and hand back what is queued, for shutdown.
    std::deque<Task*> close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        return std::exchange(tasks_, {});
    }

private:
    std::mutex mutex_;
    std::condition_variable ready_;  // signalled when tasks_ becomes non-empty
    std::deque<Task*> tasks_;        // each entry owns one reference
    bool closed_ = false;            // set once by the executor's destructor
    std::uint64_t pushes_ = 0;       // tasks queued so far, for RunStats
};

// snippet-begin: schedule
inline void Task::schedule() {
    // release: what this thread did before waking (e.g. filling a channel) is visible to
    // the poll, which acquires in begin_poll. acquire: pairs with the release of begin_poll
    // and finish(). Seeing the bits needs no order: an RMW reads the word's latest value.
    const std::uint32_t before = state_.fetch_or(scheduled, std::memory_order_acq_rel);
    if ((before & (scheduled | complete)) != 0) return;
    ref();  // the queue's reference
    queue_->push(this);
}
// snippet-end: schedule

}  // namespace rt::detail
