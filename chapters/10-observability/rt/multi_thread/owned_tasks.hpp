// The multi-threaded runtime's lists of live tasks: every task spawned and not yet complete,
// each with one reference, the runtime's, so that shutdown can find and cancel them all
// (chapter 7's executor keeps one list on its thread; Tokio's `OwnedTasks`).
//
// One list for all would be a lock that every worker takes twice per task, at spawn and at
// completion. So each worker has a list of its own, for the tasks spawned on its thread, which
// only that thread touches: linking and unlinking take no lock and no atomic operation. A
// task remembers whose list it is in (Task::spare_byte). Tasks spawned from threads outside
// the runtime go to one more list, under a mutex.
//
// A task that completes on another worker than the one whose list it is in cannot be unlinked
// there: the list is not that worker's to touch. It is pushed instead onto the owner's stack of
// tasks completed elsewhere (one compare-and-swap, with the task's ready-queue link, free once
// it is complete), still holding the runtime's reference; the owner unlinks them and drops
// that reference at its next collect(), every so many ticks and before it parks. Until then
// the task's future is already destroyed; only its memory waits.
//
// Closing, for shutdown, after the worker threads have ended: every list is collected and
// emptied, and the outsiders' list refuses later binds (bind_remote returns false), so that no
// task escapes the shutdown: a Handle's spawn racing with it either binds before the close,
// and the shutdown cancels the task, or is refused, and cancels it itself.
//
// Guarantees: a live task is in exactly one list; every task taken out by close() or unlinked
// gives back the runtime's reference exactly once.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "rt/task.hpp"

namespace rt::detail {

class OwnedTasks {
public:
    explicit OwnedTasks(std::uint32_t workers) : workers_(workers), lists_(new List[workers + 1]) {}

    /// On worker `worker`'s thread: link a new task, with the runtime's reference.
    void bind_local(Task* task, std::uint32_t worker) noexcept {
        task->spare_byte = static_cast<std::uint8_t>(worker);
        link(lists_[worker], task);
    }

    /// From a thread outside the runtime. False after close(): the caller keeps the reference.
    bool bind_remote(Task* task) {
        std::lock_guard lock(outsiders_);
        if (closed_) return false;
        task->spare_byte = static_cast<std::uint8_t>(workers_);
        link(lists_[workers_], task);
        return true;
    }

    /// Whose list `task` is in: read it before the task's future is destroyed (that may reuse
    /// the byte).
    static std::uint32_t list_of(const Task* task) noexcept { return task->spare_byte; }

    // snippet-begin: owned-remove
    /// On worker `worker`'s thread: `task`, from list `list`, completed. True if it was unlinked
    /// and the caller drops the runtime's reference; false if the task went to the stack of the
    /// worker that owns the list, which keeps that reference until it collects the task.
    bool remove(Task* task, std::uint32_t list, std::uint32_t worker) {
        if (list == worker) {  // ours: no lock
            unlink(lists_[list], task);
            return true;
        }
        if (list == workers_) {  // spawned from outside
            std::lock_guard lock(outsiders_);
            unlink(lists_[list], task);
            return true;
        }
        // Another worker's: push it on that worker's stack. release: the task's completion
        // happens-before the owner's collect, which acquires.
        std::atomic<Task*>& stack = lists_[list].completed_elsewhere;
        task->next_ready = stack.load(std::memory_order_relaxed);
        while (!stack.compare_exchange_weak(task->next_ready, task, std::memory_order_release,
                                            std::memory_order_relaxed)) {
        }
        return false;
    }
    // snippet-end: owned-remove

    /// On worker `worker`'s thread: unlink the tasks of its list that completed on other
    /// workers, and drop the runtime's references to them.
    void collect(std::uint32_t worker) noexcept {
        List& list = lists_[worker];
        if (list.completed_elsewhere.load(std::memory_order_relaxed) == nullptr) return;
        Task* task = list.completed_elsewhere.exchange(nullptr, std::memory_order_acquire);
        while (task != nullptr) {
            Task* next = task->next_ready;
            unlink(list, task);
            task->unref();
            task = next;
        }
    }

    /// Shutdown, after the worker threads have ended: refuse every later bind, and take every
    /// live task out, each with the runtime's reference.
    std::vector<Task*> close() {
        std::vector<Task*> live;
        for (std::uint32_t worker = 0; worker < workers_; ++worker) collect(worker);
        std::lock_guard lock(outsiders_);
        closed_ = true;
        for (std::uint32_t i = 0; i <= workers_; ++i) {
            for (Task* task = lists_[i].head; task != nullptr; task = task->next_live) {
                live.push_back(task);
            }
            lists_[i].head = nullptr;
        }
        return live;
    }

private:
    struct alignas(64) List {  // its own cache lines: written by its worker only
        Task* head = nullptr;
        // Tasks of this list that completed on other workers, linked through next_ready; on a
        // line of its own, for the other workers write it.
        alignas(64) std::atomic<Task*> completed_elsewhere{nullptr};
    };

    static void link(List& list, Task* task) noexcept {
        task->prev_live = nullptr;
        task->next_live = list.head;
        if (list.head != nullptr) list.head->prev_live = task;
        list.head = task;
    }
    static void unlink(List& list, Task* task) noexcept {
        if (task->prev_live != nullptr) task->prev_live->next_live = task->next_live;
        if (task->next_live != nullptr) task->next_live->prev_live = task->prev_live;
        if (list.head == task) list.head = task->next_live;
        task->prev_live = task->next_live = nullptr;
    }

    const std::uint32_t workers_;
    std::unique_ptr<List[]> lists_;  // one per worker, then the outsiders'
    std::mutex outsiders_;           // guards the outsiders' list and closed_
    bool closed_ = false;
};

}  // namespace rt::detail
