// Exercise 09-01: spawn_blocking, the pool and its handle. ex::BlockingPool runs functions
// that block, on threads of its own, starting a thread when more calls wait than threads are
// idle, up to max_threads; ex::BlockingHandle<T> is the future a task awaits for the result:
// the function's value, or its exception rethrown in the task.
//
// The hand-over (ex::detail::Handoff<T>, the exercise's part with the pool's growth rule) is
// the oneshot channel of exercise 02-02 between two kinds of thread:
//  - the pool's thread stores the outcome and takes the waker, both under the mutex, then
//    wakes the task after its unlock;
//  - the task's poll looks for the outcome and, finding none, leaves its waker, both under the
//    same mutex: either it sees the outcome, or the pool's thread finds its waker. No wake is
//    lost between the two;
//  - a task may move between workers, so the poll keeps the waker of its latest poll
//    (will_wake says when it is the same, and spares the copy).
// A handle dropped before the outcome comes changes nothing for the call: it runs, and its
// outcome is dropped with the shared state, which the pool's side holds too.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "rt/future.hpp"

namespace ex {

namespace detail {

/// The state a call's pool thread and its awaiting task share.
template <class T>
class Handoff {
public:
    /// What a call returns, with std::monostate standing for void.
    using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

    /// The pool's side, once: the call returned `value`, or threw `error` (then `value` is
    /// empty). Wakes the awaiting task, if it waits.
    void complete(std::optional<Stored> value, std::exception_ptr error) {
        std::optional<rt::Waker> waker;
        {
            std::lock_guard lock(mutex_);
            value_ = std::move(value);
            error_ = std::move(error);
            done_ = true;
            waker = std::exchange(waker_, std::nullopt);
        }
        if (waker) std::move(*waker).wake();  // after the unlock: the task may run at once
    }

    /// The task's side: ready with the value (or the exception, rethrown) once complete;
    /// otherwise pending, with the waker of this poll kept.
    rt::Poll<T> poll(rt::Context& cx) {
        std::optional<rt::Waker> replaced;  // declared before the lock: dropped after it
        std::unique_lock lock(mutex_);
        if (!done_) {
            if (!waker_ || !waker_->will_wake(cx.waker())) {
                replaced = std::exchange(waker_, cx.waker());
            }
            return rt::pending;
        }
        if (error_) std::rethrow_exception(error_);
        if constexpr (std::is_void_v<T>) {
            return rt::ready;
        } else {
            return std::move(*value_);
        }
    }

private:
    std::mutex mutex_;                // guards everything below
    bool done_ = false;               // complete() has run: value_ or error_ holds the outcome
    std::optional<Stored> value_;     // what the call returned, until a ready poll moves it out
    std::exception_ptr error_;        // what the call threw, if it threw
    std::optional<rt::Waker> waker_;  // the task's, from its latest pending poll
};

}  // namespace detail

/// The future of a blocking call: its value, or its exception rethrown. Await it once.
template <class T>
class BlockingHandle {
public:
    using Output = T;
    explicit BlockingHandle(std::shared_ptr<detail::Handoff<T>> handoff)
        : handoff_(std::move(handoff)) {}
    rt::Poll<T> poll(rt::Context& cx) { return handoff_->poll(cx); }

private:
    std::shared_ptr<detail::Handoff<T>> handoff_;
};

/// What a pool has done, for tests and for the program.
struct BlockingStats {
    std::size_t threads = 0;    // threads started so far
    std::size_t idle = 0;       // threads waiting for a call now
    std::size_t completed = 0;  // calls whose outcome was handed over (complete returned)
};

class BlockingPool {
public:
    explicit BlockingPool(std::size_t max_threads = 8) : max_threads_(max_threads) {}
    BlockingPool(const BlockingPool&) = delete;
    BlockingPool& operator=(const BlockingPool&) = delete;
    ~BlockingPool() { shutdown(); }

    /// Run `function` on a thread of the pool, from any thread; the handle gives its result.
    /// `function` is copyable, since the queue holds std::function (C++23's
    /// std::move_only_function would lift that; chapter 9's pool holds tasks instead).
    template <class F>
    BlockingHandle<std::invoke_result_t<F&>> spawn(F function) {
        static_assert(std::is_copy_constructible_v<F>,
                      "BlockingPool::spawn takes a copyable function (the queue holds "
                      "std::function): capture a std::shared_ptr instead of a std::unique_ptr");
        using T = std::invoke_result_t<F&>;
        auto handoff = std::make_shared<detail::Handoff<T>>();
        auto call = [handoff, function = std::move(function)]() mutable {
            using Stored = typename detail::Handoff<T>::Stored;
            std::optional<Stored> value;
            std::exception_ptr error;
            try {
                if constexpr (std::is_void_v<T>) {
                    function();
                    value.emplace();
                } else {
                    value.emplace(function());
                }
            } catch (...) {
                error = std::current_exception();
            }
            handoff->complete(std::move(value), std::move(error));
        };
        {
            std::lock_guard lock(mutex_);
            queue_.emplace_back(std::move(call));
            if (should_start_thread_locked()) {
                threads_.emplace_back([this] { run_thread(); });
                ++stats_.threads;
            }
        }
        wanted_.notify_one();
        return BlockingHandle<T>(std::move(handoff));
    }

    /// Let every queued call run, then join the threads. Calls spawned afterwards start a
    /// thread again.
    void shutdown() {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            threads.swap(threads_);
        }
        wanted_.notify_all();
        for (std::thread& thread : threads) thread.join();
        std::lock_guard lock(mutex_);
        stopping_ = false;
    }

    BlockingStats stats() const {
        std::lock_guard lock(mutex_);
        return stats_;
    }

private:
    /// The growth rule, under the mutex, just after a push: start a thread when more calls
    /// wait than threads are idle (an idle thread takes one call each; a thread notified but
    /// not awake yet still counts as idle, and will take one), unless the pool is at its limit.
    bool should_start_thread_locked() const {
        return queue_.size() > stats_.idle && threads_.size() < max_threads_;
    }

    /// A pool thread: take calls until shutdown finds the queue empty.
    void run_thread() {
        std::unique_lock lock(mutex_);
        for (;;) {
            if (!queue_.empty()) {
                std::function<void()> call = std::move(queue_.front());
                queue_.pop_front();
                lock.unlock();
                call();          // hands the outcome over
                call = nullptr;  // its captures go before the count says it is done
                lock.lock();
                ++stats_.completed;
                continue;
            }
            if (stopping_) return;
            ++stats_.idle;
            wanted_.wait(lock);
            --stats_.idle;
        }
    }

    const std::size_t max_threads_;
    mutable std::mutex mutex_;  // guards everything below
    std::condition_variable wanted_;
    std::deque<std::function<void()>> queue_;  // calls not started yet
    std::vector<std::thread> threads_;
    BlockingStats stats_;
    bool stopping_ = false;
};

}  // namespace ex
