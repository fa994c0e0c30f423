// The global injection queue: tasks woken or spawned by threads that are not workers of the
// runtime, and the overflow of the workers' own queues. A mutex-guarded intrusive list, with
// its length in an atomic so that a worker can see it is empty without the lock (Tokio's
// `Inject`). Workers take from it every `global_queue_interval` ticks even when their own
// queue is busy, so nothing here waits for ever (rt/multi_thread/worker.hpp).
//
// The `shared_queue` variant of the runtime uses this queue alone, for every task: the design
// of step 1 in the chapter, whose lock every push and every pop takes.
//
// Guarantees: FIFO; a task pushed is popped exactly once, or handed back by close() (whose
// caller then releases it); after close() pushes are refused, and the pusher keeps the task.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

#include "rt/ready_queue.hpp"  // TaskList
#include "rt/task.hpp"

namespace rt::detail {

class Inject {
public:
    /// Whether it looks empty. seq_cst: a parking worker's check, which must not be ordered
    /// before its own announcement that it parks (rt/multi_thread/idle.hpp).
    bool is_empty() const noexcept { return len() == 0; }
    std::size_t len() const noexcept { return len_.load(std::memory_order_seq_cst); }

    /// Queue one task. False if the queue is closed: the caller keeps it.
    bool push(Task* task) {
        std::lock_guard lock(mutex_);
        if (closed_) return false;
        list_.push_back(task);
        len_.store(len_.load(std::memory_order_relaxed) + 1, std::memory_order_seq_cst);
        return true;
    }

    /// Queue `batch` (`count` tasks), in order, under one lock. False if closed: the caller
    /// keeps them.
    bool push_batch(TaskList& batch, std::size_t count) {
        std::lock_guard lock(mutex_);
        if (closed_) return false;
        list_.append(batch);
        len_.store(len_.load(std::memory_order_relaxed) + count, std::memory_order_seq_cst);
        return true;
    }

    /// The first task, or null.
    Task* pop() {
        if (is_empty()) return nullptr;
        std::lock_guard lock(mutex_);
        Task* task = list_.pop_front();
        if (task != nullptr) {
            len_.store(len_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        }
        return task;
    }

    /// Up to `most` tasks from the front, under one lock, into `into`; returns how many.
    std::size_t pop_n(std::size_t most, TaskList& into) {
        if (is_empty()) return 0;
        std::lock_guard lock(mutex_);
        std::size_t taken = 0;
        while (taken < most) {
            Task* task = list_.pop_front();
            if (task == nullptr) break;
            into.push_back(task);
            ++taken;
        }
        len_.store(len_.load(std::memory_order_relaxed) - taken, std::memory_order_relaxed);
        return taken;
    }

    /// Refuse every later push, and hand back what is queued (shutdown).
    TaskList close() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        TaskList queued;
        queued.append(list_);
        len_.store(0, std::memory_order_relaxed);
        return queued;
    }

private:
    std::atomic<std::size_t> len_{0};  // written under the lock; read without it
    std::mutex mutex_;                 // guards the two below
    TaskList list_;                    // each entry owns one reference, the queue's
    bool closed_ = false;
};

}  // namespace rt::detail
