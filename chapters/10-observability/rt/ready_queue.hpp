// The ready queue: tasks that a waker scheduled, in wake order. Any thread may push; one
// executor pops. The executor sleeps in epoll_wait (rt/io_driver.hpp), so a push from another
// thread must be able to interrupt it: the queue owns an eventfd, which the driver watches,
// and a push writes to it when the executor is parked.
//
// New in chapter 7 (a lesson of the benchmarks, docs/benchmarks.md): the queue is two lists.
// Nearly every wake comes from the executor's own thread (a task that yields, a channel sent
// to by another task, an I/O event or a timer the executor itself collected), and that thread
// is the only one that pops. So:
//  - the local list is for pushes made on the executor's thread while it runs: no lock, no
//    atomic, no system call. That is what `local_queue`, a thread_local set while the
//    executor runs, tells a push;
//  - the remote list is for pushes from any other thread, under the mutex, with the eventfd
//    protocol below; `remote_pending_` lets the executor skip the mutex when it is empty;
//  - both are intrusive: a task's `next_ready` link is the list's node, so a push allocates
//    nothing (a task is in at most one list at a time: the SCHEDULED bit, rt/task.hpp).
// Every pop first moves what the remote list holds to the local list's back, so a task woken
// from afar waits behind the tasks woken before it, never forever.
//
// The park protocol (remote pushes), and the race each step avoids:
//  1. executor: prepare_park() takes the lock, finds both lists empty, sets `parked_`;
//  2. executor: calls epoll_wait, without the lock;
//  3. pusher: push() takes the lock, queues the task, reads and clears `parked_`; after the
//     lock, writes the eventfd if it was set;
//  4. executor: back from epoll_wait, end_park() clears `parked_`, before the driver wakes
//     the tasks its events concern; the driver reads the eventfd empty if it fired.
// A push between 1 and 2 writes the eventfd before the executor waits: the write puts the
// eventfd on the epoll instance's ready list, where it stays until an epoll_wait takes it, so
// the epoll_wait of step 2 returns at once instead of sleeping through it. A push while the
// executor runs sees `parked_` clear and makes no system call.
//
// Remote spawns (Handle::spawn, rt/executor.hpp) take the same path as remote wakes, into a
// third list, `spawned_`, under the same lock and with the same park protocol: the executor
// must first link such a task into its list of live tasks, which only its thread may touch,
// so collect_remote() hands them over apart from the woken ones.
//
// The queue is shared by the executor and every task it ever had, since a task's wakers may
// outlive the executor: the last of them frees it (retain and release; new in chapter 7, an
// 8-byte pointer in every task where a std::shared_ptr took 16). New in chapter 8: that count
// lives in the Scheduler it derives from (rt/scheduler.hpp), the other kind being the
// multi-threaded runtime's.
//
// Guarantees: a task pushed is popped exactly once, or released (its reference dropped) when
// the queue is closed; push never blocks for long; the eventfd is written at most once per
// park.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <utility>
#include <vector>

#include "rt/scheduler.hpp"

namespace rt::detail {

class ReadyQueue;

/// The queue of the executor running on this thread, while it runs: a push from here goes to
/// its local list. Set by the executor (EnterExecutor, rt/executor.hpp).
inline thread_local ReadyQueue* local_queue = nullptr;

/// A first-in first-out list of tasks linked through Task::next_ready. Not synchronised.
class TaskList {
public:
    bool empty() const noexcept { return head_ == nullptr; }

    void push_back(Task* task) noexcept {
        task->next_ready = nullptr;
        if (tail_ != nullptr) {
            tail_->next_ready = task;
        } else {
            head_ = task;
        }
        tail_ = task;
    }

    Task* pop_front() noexcept {
        Task* task = head_;
        if (task != nullptr) {
            head_ = task->next_ready;
            if (head_ == nullptr) tail_ = nullptr;
        }
        return task;
    }

    /// Move every task of `other` to the back of this list, in order.
    void append(TaskList& other) noexcept {
        if (other.head_ == nullptr) return;
        if (tail_ != nullptr) {
            tail_->next_ready = other.head_;
        } else {
            head_ = other.head_;
        }
        tail_ = other.tail_;
        other.head_ = other.tail_ = nullptr;
    }

private:
    Task* head_ = nullptr;
    Task* tail_ = nullptr;
};

class ReadyQueue final : public Scheduler {
public:
    ReadyQueue() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
        if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    ReadyQueue(const ReadyQueue&) = delete;
    ReadyQueue& operator=(const ReadyQueue&) = delete;

    // snippet-begin: push
    /// Queue a task; the queue takes over the caller's reference. On the executor's thread
    /// while it runs, that is all; from elsewhere, it interrupts the executor's epoll_wait if
    /// it is parked. After close() the task is released instead.
    void push(Task* task) override {
        if (local_queue == this && !closed_) {  // the executor's thread: nobody else pops
            ++local_pushes_;
            local_.push_back(task);
            return;
        }
        // From another thread (new in chapter 8: a reference of our own meanwhile). Once the
        // task is queued its reference is the queue's, and the executor may shut down and
        // release it, and with it this queue, before push_remote has written the eventfd.
        retain();
        if (!push_remote(remote_, task)) task->unref();  // closed: outside the lock
        release();
    }
    // snippet-end: push

    /// A task spawned from another thread (Handle::spawn), with the queue's reference and the
    /// executor's. False if the queue is closed: the caller still owns both references.
    bool push_spawned(Task* task) override { return push_remote(spawned_, task); }

    /// Whether other threads pushed or spawned since the last collect_remote. Executor's thread.
    bool remote_pending() const noexcept {
        // acquire: pairs with the pusher's release, though collect_remote's lock orders them too.
        return remote_pending_.load(std::memory_order_acquire);
    }

    /// Move what other threads woke to the back of the local list, and hand back what they
    /// spawned, for the executor to link and then push. Executor's thread only.
    TaskList collect_remote() {
        std::lock_guard lock(mutex_);
        local_.append(remote_);
        remote_pending_.store(false, std::memory_order_relaxed);  // under the lock
        TaskList spawned;
        spawned.append(spawned_);
        return spawned;
    }

    /// The next task of the local list, without waiting. Executor's thread only; the executor
    /// calls collect_remote first when remote_pending says so.
    Task* try_pop() noexcept { return local_.pop_front(); }

    /// Step 1: if no task is queued, record that the executor is about to wait, and return
    /// true; the caller then waits in epoll_wait and calls end_park. False if a task is queued.
    bool prepare_park() {
        if (!local_.empty()) return false;
        std::lock_guard lock(mutex_);
        if (!remote_.empty() || !spawned_.empty()) return false;
        parked_ = true;
        return true;
    }

    /// Step 4: the executor is back.
    void end_park() {
        std::lock_guard lock(mutex_);
        parked_ = false;
    }

    /// The descriptor the driver watches for pushes from other threads.
    int wake_fd() const noexcept { return wake_fd_; }

    /// How many times a task entered the queue, since the queue was made. Executor's thread.
    std::uint64_t pushes() {
        std::lock_guard lock(mutex_);
        return local_pushes_ + remote_pushes_;
    }

    /// Refuse further pushes and hand back what is queued, for shutdown: the woken tasks,
    /// then those spawned from afar that the executor never linked. Executor's thread.
    std::pair<std::vector<Task*>, std::vector<Task*>> close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        local_.append(remote_);
        std::pair<std::vector<Task*>, std::vector<Task*>> queued;
        while (Task* task = local_.pop_front()) queued.first.push_back(task);
        while (Task* task = spawned_.pop_front()) queued.second.push_back(task);
        return queued;
    }

    /// Only through release(): the queue is made with `new`, and lives while it has holders.
    ~ReadyQueue() override { ::close(wake_fd_); }

private:
    /// Append to `list` (remote_ or spawned_) under the lock, and wake a parked executor.
    /// False if the queue is closed.
    bool push_remote(TaskList& list, Task* task) {
        bool unpark = false;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return false;
            ++remote_pushes_;
            list.push_back(task);
            remote_pending_.store(true, std::memory_order_release);  // remote_pending acquires
            unpark = std::exchange(parked_, false);                  // step 3: one write per park
        }
        if (unpark) {
            const std::uint64_t one = 1;
            // Cannot fail short of a full counter (2^64 - 2 writes never read).
            [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
        }
        return true;
    }

    TaskList local_;                  // executor's thread only; each entry owns a reference
    std::uint64_t local_pushes_ = 0;  // executor's thread only
    std::atomic<bool> remote_pending_{false};  // remote_ may be non-empty: take the lock
    std::mutex mutex_;                         // guards everything below
    TaskList remote_;                          // each entry owns one reference
    TaskList spawned_;                         // spawned from afar; each owns two
    bool closed_ = false;                      // set once by the executor's destructor
    bool parked_ = false;                      // the executor is in (or entering) epoll_wait
    std::uint64_t remote_pushes_ = 0;          // for RunStats
    int wake_fd_;  // eventfd: written by a push while parked_, read by the driver
};

}  // namespace rt::detail
