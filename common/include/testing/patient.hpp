// A test helper for stages whose runtime sleeps in epoll_wait but has no timeout of its own
// (chapter 5): testing::block_on_patient runs a Task as rt::block_on does, but gives up
// (std::nullopt) once it has waited testing::patience() (20 s, testing/eventually.hpp) with
// nothing waking it. What is bounded is a wait in which nothing happens, not the whole test:
// moving megabytes under ThreadSanitizer on a busy machine takes seconds, each read waking the
// body. And it is a time, not a count of the executor's turns: what a socket test waits for is
// the kernel moving bytes, and a busy machine can keep it waiting however few turns go by.
// Giving up cancels every task the body spawned, which closes their sockets. Include it with
// the stage's own rt/ headers first on the include path.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/waker.hpp"
#include "testing/eventually.hpp"

namespace testing {

/// A thread that wakes the latest waker it was given once `quiet` has passed since it was last
/// put off, unless it is destroyed first; its destructor stops it and joins it, so nothing of
/// it outlives the test.
class Alarm {
public:
    explicit Alarm(std::chrono::milliseconds quiet)
        : quiet_(quiet),
          at_(std::chrono::steady_clock::now() + quiet),
          thread_([this] { wait_and_ring(); }) {}
    Alarm(const Alarm&) = delete;
    Alarm& operator=(const Alarm&) = delete;
    ~Alarm() {
        {
            std::lock_guard lock(mutex_);
            stopped_ = true;
        }
        changed_.notify_one();
        thread_.join();
    }

    /// Ring `quiet` from now, not before, and then wake `waker` (instead of the waker given
    /// before, unless it is the same).
    void put_off(const rt::Waker& waker) {
        std::lock_guard lock(mutex_);
        // Only ever later: the thread, woken at the time it waited for, sees it and waits on.
        at_ = std::chrono::steady_clock::now() + quiet_;
        if (!waker_ || !waker_->will_wake(waker)) waker_ = waker;
    }
    bool rang() {
        std::lock_guard lock(mutex_);
        return rang_;
    }

private:
    void wait_and_ring() {
        std::optional<rt::Waker> waker;
        {
            std::unique_lock lock(mutex_);
            while (!stopped_ && std::chrono::steady_clock::now() < at_) {
                changed_.wait_until(lock, at_);
            }
            if (stopped_) return;
            rang_ = true;
            waker.swap(waker_);
        }
        if (waker) std::move(*waker).wake();  // outside the lock: waking takes the queue's lock
    }

    const std::chrono::milliseconds quiet_;
    std::mutex mutex_;
    std::condition_variable changed_;           // stopped_ was set
    std::chrono::steady_clock::time_point at_;  // guarded by mutex_
    std::optional<rt::Waker> waker_;            // guarded by mutex_
    bool rang_ = false;                         // guarded by mutex_
    bool stopped_ = false;                      // guarded by mutex_
    std::thread thread_;                        // last: started once the members it uses exist
};

/// The future run() runs: `body`'s value, or std::nullopt once `patience` has passed without
/// anything waking the body. While the body waits for its sockets, the executor sleeps in
/// epoll_wait as it does outside tests; an Alarm, put off at every poll, wakes this future when
/// the patience is up.
template <class T>
class Patient {
public:
    using Output = std::optional<T>;
    Patient(rt::Task<T> body, std::chrono::milliseconds patience)
        : body_(std::move(body)), patience_(patience) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        if (!alarm_) alarm_ = std::make_unique<Alarm>(patience_);
        alarm_->put_off(cx.waker());  // something happened: the body was woken
        rt::Poll<T> polled = body_.poll(cx);
        if (polled.is_ready()) {
            alarm_.reset();
            return Output(std::move(polled).value());
        }
        if (alarm_->rang()) {
            alarm_.reset();
            return Output();  // given up
        }
        return rt::pending;
    }

private:
    rt::Task<T> body_;  // the test's coroutine, polled by this root task
    std::chrono::milliseconds patience_;
    std::unique_ptr<Alarm> alarm_;  // from the first poll until the outcome
};

/// Run `body` as rt::block_on does, but give up (std::nullopt) once it has waited for
/// testing::patience() with nothing waking it (the opening comment).
template <class T>
std::optional<T> block_on_patient(rt::Task<T> body) {
    return rt::block_on(Patient<T>(std::move(body), testing::patience()));
}

}  // namespace testing
