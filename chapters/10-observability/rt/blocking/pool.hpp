// The blocking pool (new in chapter 9): threads of their own for work that blocks (a read(2)
// of a file, a DNS lookup, a long computation), so that it never stalls a worker and every
// task queued behind it. Tokio's runtime/blocking/pool.rs, in C++.
//
// A blocking call is a task like any other (rt/task.hpp): a TaskCell whose future calls the
// function on its first poll and is ready with what it returned, or with what it threw. Its
// scheduler is this pool, so spawn, JoinHandle, abort and the join protocol are the ones tasks
// already have: a task awaits the call's JoinHandle as it awaits a spawned task's, and the
// thread that ends the call wakes it through the handle's waker. What differs is only who
// polls: one of this pool's threads, once, to the end, however long that takes.
//
// The threads. There are none until the first call. A call queued while no thread is idle or
// searching (below) starts a new one, up to `max_threads` (512, Tokio's default); beyond that,
// calls wait in the queue for a thread to be free. A thread idle for `keep_alive` (10 s, as
// Tokio) ends. So a burst of calls grows the pool, and a quiet runtime gives its threads back.
//
// Searching threads. A thread woken or started for the queue, and that has not taken a call
// from it yet, is *searching* (`searching_` counts them). A push that finds one searching wakes
// nobody: that thread is on its way to the queue. Without this, a burst of 10,000 calls woke a
// thread for each, and a hundred threads fought over the mutex, at three context switches a
// call (Tokio's pool wakes one for each too). The rule that keeps a call from waiting behind
// a long one: a thread that takes a call, and leaves more in the queue with nobody searching,
// wakes or starts one more thread before it runs its call. So the threads grow one at a time
// while the queue is not empty.
//
// The protocol, under the pool's mutex, with the race each step avoids:
//  1. a thread takes calls from the queue until it is empty, running each with the mutex
//     released. Taking one, it stops searching; if calls remain and nobody searches, it
//     wakes or starts a searcher first (step 3's wake_searcher);
//  2. then it counts itself idle and waits on the condition variable, until a token, the
//     shutdown or its keep_alive deadline;
//  3. a push that finds a thread searching does nothing more: that thread looks at the queue
//     under the mutex after the push, and either takes this call or, taking an earlier one,
//     sees this one left and applies step 1's rule. Otherwise (wake_searcher) the push takes
//     an idle thread from the idle count and gives it a token (`notified_`) with notify_one,
//     or, with no idle thread, starts one (at the cap: leaves the call to the first thread
//     that is done); either way that thread is counted searching. The token, and not the
//     condition variable's return, says whether a thread was chosen: a wait may end
//     spuriously, or by its timeout just as a push chose it. A thread that finds a token
//     takes it and goes back to step 1, whatever ended its wait; and no push is lost between
//     a thread's last look at the queue and its wait, since both happen under the mutex;
//  4. a thread whose wait timed out with no token leaves the idle count and ends, unless the
//     queue holds calls (pushed while every thread was busy, at the cap): then it runs them.
//
// Ending threads. A thread cannot join itself, and an ended thread must be joined by someone.
// Each ending thread leaves its std::thread in `last_ended_` and joins the one it finds there,
// which ended before it; shutdown joins the last. So every thread is joined, once.
//
// Shutdown (the runtime's destructor, after its workers have stopped):
//  1. set `shutdown_` and wake every idle thread; pushes are refused from now on (the caller's
//     JoinHandle completes with TaskAborted);
//  2. calls still queued are never run: shutdown takes them out of the queue and cancels them
//     (their handles complete with TaskAborted) at once, without waiting for a thread to be free;
//  3. calls that are running run to their end: shutdown waits for every thread to end, as
//     Tokio's runtime does when it is dropped. A call that never returns keeps the runtime's
//     destructor waiting: a blocking call cannot be interrupted from outside.
#pragma once

#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>

#include "rt/join_handle.hpp"
#include "rt/ready_queue.hpp"  // TaskList
#include "rt/scheduler.hpp"
#include "rt/task.hpp"

namespace rt {

/// How a runtime's blocking pool grows and shrinks.
struct BlockingOptions {
    std::size_t max_threads = 512;                 // threads running calls at once, at most
    std::chrono::milliseconds keep_alive{10'000};  // an idle thread ends after this
};

/// What the blocking pool did so far, for tests and the demo.
struct BlockingStats {
    std::size_t threads = 0;    // alive now
    std::size_t idle = 0;       // of those, waiting for a call
    std::size_t queued = 0;     // calls waiting for a thread
    std::uint64_t started = 0;  // threads started since the runtime was made
    std::uint64_t ended = 0;    // threads that ended after keep_alive idle
    std::uint64_t calls = 0;    // calls run to their end
};

}  // namespace rt

namespace rt::detail {

/// The future of a blocking call: its one poll calls the function and is ready with its
/// result (or throws what it threw, which the task records as its outcome). Never pending.
template <class Fn>
class BlockingCall {
public:
    using Output = std::invoke_result_t<Fn&>;

    explicit BlockingCall(Fn fn) : fn_(std::move(fn)) {}

    Poll<Output> poll(Context&) {
        if constexpr (std::is_void_v<Output>) {
            fn_();
            return ready;
        } else {
            return fn_();
        }
    }

private:
    Fn fn_;
};

class BlockingPool final : public Scheduler {
public:
    /// A pool with one holder, the caller (the runtime), which gives it back with release().
    static BlockingPool* make(BlockingOptions options) {
        if (options.max_threads == 0) {
            throw std::invalid_argument("a blocking pool needs at least one thread");
        }
        return new BlockingPool(options);
    }

    /// Queue `fn` to run on a thread of the pool; any thread. After shutdown the call is
    /// never run, and the handle completes with TaskAborted.
    template <class Fn>
    requires std::invocable<Fn&> JoinHandle<std::invoke_result_t<Fn&>> spawn(Fn fn) {
        // Born scheduled with three references, as every task: the pool's own, the handle's
        // and the queue's (rt/task.hpp). The thread that runs it drops the first and the last.
        auto* task = new TaskCell<BlockingCall<Fn>>(BlockingCall<Fn>(std::move(fn)), this);
        if (!push_spawned(task)) {
            task->finish();
            task->unref(2);
        }
        return JoinHandle<std::invoke_result_t<Fn&>>(task);
    }

    /// A call queued: step 3 of the protocol. False after shutdown (the caller keeps the
    /// references). Throws std::system_error if no thread exists and none can be started.
    // snippet-begin: push
    bool push_spawned(Task* task) override {
        std::unique_lock lock(mutex_);
        if (shutdown_) return false;
        queue_.push_back(task);
        ++queued_;
        if (searching_ > 0) return true;  // a thread is on its way to the queue
        try {
            wake_searcher();
        } catch (...) {
            if (threads_.empty()) {  // nobody will ever run it: take it back out (it is last)
                remove_last(task);
                throw;
            }
            // Threads exist: the call waits for one of them.
        }
        return true;
    }
    // snippet-end: push

    /// A woken task: a blocking call is never pending, so nothing wakes it, but abort() of a
    /// queued call schedules it (it finds it scheduled already, and this is not reached).
    void push(Task* task) override {
        if (!push_spawned(task)) task->unref();
    }

    /// The shutdown protocol above. Returns when every thread has ended.
    void shutdown() {
        TaskList never_run;
        {
            std::lock_guard lock(mutex_);
            shutdown_ = true;  // step 1
            condvar_.notify_all();
            never_run.append(queue_);
            queued_ = 0;
        }
        while (Task* task = never_run.pop_front()) cancel(task);  // step 2
        std::thread last;
        {
            std::unique_lock lock(mutex_);
            ended_.wait(lock, [this] { return threads_.empty(); });  // step 3
            last = std::move(last_ended_);
        }
        if (last.joinable()) last.join();
    }

    BlockingStats stats() const {
        std::lock_guard lock(mutex_);
        return BlockingStats{threads_.size(), idle_, queued_, started_, timed_out_, calls_};
    }

private:
    explicit BlockingPool(BlockingOptions options) : options_(options) {}
    ~BlockingPool() override = default;

    /// Step 3, under the mutex: make one more thread search, an idle one (with a token) or a
    /// new one. At the cap, nothing: a busy thread takes the call when its own is done. May
    /// throw std::system_error (no thread could be started).
    // snippet-begin: wake-searcher
    void wake_searcher() {
        if (idle_ > 0) {
            --idle_;
            ++notified_;
            ++searching_;
            condvar_.notify_one();  // under the mutex: the pool cannot be shut down meanwhile
        } else if (threads_.size() < options_.max_threads) {
            start_thread();
            ++searching_;
        }
    }
    // snippet-end: wake-searcher

    /// Under the mutex. May throw std::system_error (no thread could be started).
    void start_thread() {
        const std::uint64_t id = next_id_++;
        threads_.emplace(id, std::thread([this, id] { run_thread(id); }));
        ++started_;
    }

    /// Under the mutex: take `task`, the last call queued, back out of the queue.
    void remove_last(Task* task) {
        TaskList rest;
        while (Task* queued = queue_.pop_front()) {
            if (queued != task) rest.push_back(queued);
        }
        queue_.append(rest);
        --queued_;
    }

    /// One thread of the pool: the protocol above.
    void run_thread(std::uint64_t id) {
        std::unique_lock lock(mutex_);
        bool searching = true;  // started for the queue (wake_searcher counted it)
        for (;;) {
            // Step 1: the queue first. (Shutdown empties it, under the mutex, and refuses
            // pushes: a call popped here is always one to run.)
            while (Task* task = queue_.pop_front()) {
                --queued_;
                if (std::exchange(searching, false)) --searching_;
                if (!queue_.empty() && searching_ == 0) {
                    try {
                        wake_searcher();  // the rest of the queue must not wait for this call
                    } catch (const std::system_error&) {
                        // No thread could be started: this one takes them after its call.
                    }
                }
                lock.unlock();
                const bool ran = run(task);
                lock.lock();
                if (ran) ++calls_;
            }
            if (std::exchange(searching, false)) --searching_;  // found nothing
            if (shutdown_) break;
            // snippet-begin: idle
            // Step 2: idle, until a token, the shutdown, or keep_alive.
            ++idle_;
            const auto deadline = std::chrono::steady_clock::now() + options_.keep_alive;
            bool chosen = false;
            bool timed_out = false;
            for (;;) {
                if (notified_ > 0) {  // step 3: a push chose an idle thread and took it from the
                    --notified_;      // idle count; this one goes, whatever ended its wait
                    chosen = true;
                    searching = true;
                    break;
                }
                if (shutdown_ || timed_out) {
                    --idle_;
                    break;
                }
                timed_out = condvar_.wait_until(lock, deadline) == std::cv_status::timeout;
            }
            if (chosen) continue;
            if (shutdown_) break;
            // Step 4: timed out, not chosen: end, unless calls wait (pushed at the cap).
            if (queue_.empty()) {
                ++timed_out_;
                break;
            }
            // snippet-end: idle
        }
        // Leave our std::thread for the next thread to end (or shutdown) to join; join the one
        // that ended before us.
        auto self = threads_.extract(id);
        std::thread previous = std::exchange(last_ended_, std::move(self.mapped()));
        if (threads_.empty()) ended_.notify_all();
        lock.unlock();
        if (previous.joinable()) previous.join();
    }

    /// Run one call: its one poll, on this thread, to its end; then drop the pool's reference
    /// and the queue's. False if it was aborted before it began.
    static bool run(Task* task) {
        bool ran = false;
        switch (task->begin_poll()) {
            case Task::Turn::poll:
            case Task::Turn::poll_measured: {  // never: a blocking call has no statistics
                const bool completed = task->poll();
                assert(completed && "a blocking call is never pending");
                (void)completed;
                ran = true;
                break;
            }
            case Task::Turn::cancel:  // aborted while queued: never run
            case Task::Turn::skip:
                break;
        }
        task->finish();
        task->unref(2);
        return ran;
    }

    /// A call that will never run: its handle completes with TaskAborted.
    static void cancel(Task* task) {
        task->finish();
        task->unref(2);
    }

    const BlockingOptions options_;
    mutable std::mutex mutex_;         // guards everything below
    std::condition_variable condvar_;  // idle threads wait here
    std::condition_variable ended_;    // shutdown waits here for the last thread to end
    TaskList queue_;                   // calls not started yet, oldest first
    std::size_t queued_ = 0;           // how many
    std::map<std::uint64_t, std::thread> threads_;  // alive, by id
    std::thread last_ended_;  // the last thread to end, to be joined by the next
    std::uint64_t next_id_ = 0;
    std::size_t idle_ = 0;       // threads waiting at step 2 and not chosen by a push
    std::size_t notified_ = 0;   // tokens: pushes that chose an idle thread
    std::size_t searching_ = 0;  // threads woken or started for the queue, no call taken yet
    bool shutdown_ = false;
    std::uint64_t started_ = 0;
    std::uint64_t timed_out_ = 0;
    std::uint64_t calls_ = 0;
};

/// A runtime's hold on its pool: at the runtime's end it shuts the pool down (waiting for the
/// calls that are running) and gives back the runtime's reference.
struct ShutDownPool {
    void operator()(BlockingPool* pool) const noexcept {
        pool->shutdown();
        pool->release();
    }
};
using OwnedBlockingPool = std::unique_ptr<BlockingPool, ShutDownPool>;

}  // namespace rt::detail
