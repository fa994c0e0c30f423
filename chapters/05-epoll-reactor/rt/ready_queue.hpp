// The ready queue: tasks that a waker scheduled, in wake order. Any thread may push; one
// executor pops. New in chapter 5: the executor no longer sleeps on a condition variable here,
// but in epoll_wait (rt/io_driver.hpp), where sockets can wake it too. So a push from another
// thread must be able to interrupt epoll_wait: the queue owns an eventfd, which the driver
// watches, and a push writes to it when the executor is parked.
//
// The park protocol, and the race each step avoids:
//  1. executor: prepare_park() takes the lock, finds the queue empty, sets `parked_`;
//  2. executor: calls epoll_wait, without the lock;
//  3. pusher: push() takes the lock, queues the task, reads and clears `parked_`; after the
//     lock, writes the eventfd if it was set;
//  4. executor: back from epoll_wait, end_park() clears `parked_`, before the driver wakes
//     the tasks its events concern (those pushes, on the executor's own thread, must not
//     write the eventfd); the driver reads the eventfd empty if it fired.
// A push between 1 and 2 writes the eventfd before the executor waits: the write puts the
// eventfd on the epoll instance's ready list, where it stays until an epoll_wait takes it, so
// the epoll_wait of step 2 returns at once instead of sleeping through it. A push while the
// executor runs sees `parked_` clear and makes no system call.
//
// Guarantees: a task pushed is popped exactly once, or released (its reference dropped) when
// the queue is closed; push never blocks for long; the eventfd is written at most once per
// park.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <deque>
#include <mutex>
#include <system_error>
#include <utility>

#include "rt/task.hpp"

namespace rt::detail {

class ReadyQueue {
public:
    ReadyQueue() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ReadyQueue(const ReadyQueue&) = delete;
    ReadyQueue& operator=(const ReadyQueue&) = delete;
    ~ReadyQueue() { ::close(wake_fd_); }

    // snippet-begin: push
    /// Queue a task; the queue takes over the caller's reference. Interrupts the executor's
    /// epoll_wait if it is parked. After close() the task is released instead.
    void push(Task* task) {
        bool unpark = false;
        {
            std::lock_guard lock(mutex_);
            if (!closed_) {
                ++pushes_;
                tasks_.push_back(task);
                task = nullptr;
                unpark = std::exchange(parked_, false);  // step 3: one write per park
            }
        }
        if (unpark) {
            const std::uint64_t one = 1;
            // Cannot fail short of a full counter (2^64 - 2 writes never read).
            [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
        }
        if (task != nullptr) task->unref();  // outside the lock: may run the task's destructor
    }
    // snippet-end: push

    /// The next task if one is ready, without waiting.
    Task* try_pop() {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) return nullptr;
        Task* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    // snippet-begin: park
    /// Step 1: if no task is queued, record that the executor is about to wait, and return
    /// true; the caller then waits in epoll_wait and calls end_park. False if a task is queued.
    bool prepare_park() {
        std::lock_guard lock(mutex_);
        if (!tasks_.empty()) return false;
        parked_ = true;
        return true;
    }

    /// Step 4: the executor is back.
    void end_park() {
        std::lock_guard lock(mutex_);
        parked_ = false;
    }
    // snippet-end: park

    /// The descriptor the driver watches for pushes from other threads.
    int wake_fd() const noexcept { return wake_fd_; }

    /// How many times a task entered the queue, since the queue was made.
    std::uint64_t pushes() {
        std::lock_guard lock(mutex_);
        return pushes_;
    }

    /// Refuse further pushes and hand back what is queued, for shutdown.
    std::deque<Task*> close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        return std::exchange(tasks_, {});
    }

private:
    std::mutex mutex_;
    std::deque<Task*> tasks_;   // each entry owns one reference
    bool closed_ = false;       // set once by the executor's destructor
    bool parked_ = false;       // the executor is in (or entering) epoll_wait
    std::uint64_t pushes_ = 0;  // tasks queued so far, for RunStats
    int wake_fd_;               // eventfd: written by a push while parked_, read by the driver
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
