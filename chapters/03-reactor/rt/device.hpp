// A simulated device, this chapter's event source: requests submitted to it complete after
// their latency on the device's own thread, which then tells a reactor. DeviceRequest is the
// future that waits for one request; its poll() keeps the protocol below, which never loses
// a wakeup however the device's thread and the executor's thread interleave.
//
// The protocol: who holds the waker, who may wake it, when, and the race each step avoids.
//  1. submit: device.request(latency) hands the request to the device at once. From then on
//     only the device sets the request's `done` flag, once: its thread at the deadline, or
//     complete() on the caller's thread.
//  2. complete (device side): set `done`, *then* tell the reactor (notify(key), or the seed's
//     wake_all). In this order, a wake always stands for a completion the woken poll can see.
//  3. poll (executor side):
//     a. `done` is set: answer ready. Nothing was registered, nothing will be woken.
//     b. otherwise register the task's waker with the reactor under the request's key. The
//        reactor is now the only holder of that waker, and only its notify may wake it.
//     c. check `done` again. Set now: the completion landed between a and b, its notify found
//        no waker and will never come back: take the registration back, answer ready.
//        Still not set: answer pending; step 2 has not reached the reactor yet, and when it
//        does it finds our waker. Without c (WaitOrder::check_then_register, kept so that a
//        test can show it) a completion between a and b is never heard of: a lost wakeup.
//  4. polled again before completion (a spurious wake, or the task moved): b registers again;
//     the reactor keeps the waker it has if it wakes the same task, or replaces the stale one.
//  5. dropped: the request takes its registration back, so the reactor neither wakes a task
//     for a future that is gone nor keeps that task alive with its waker.
//
// Why c is enough: b and the reactor's half of step 2 take the reactor's mutex, so one runs
// first. If b did, the notify finds the waker. If the notify did, `done` was set before it,
// hence before b and c (the mutex orders them), and c sees it. The other cure is to check and
// register inside one critical section of the lock the notifier takes to set `done` (chapter
// 2's Sleep does that with its own mutex); it needs the event's state to live under that
// lock. Checking again keeps the reactor a table of wakers that knows nothing of what its
// events mean, and costs at most a registration taken back. Tokio's I/O readiness follows the
// same rule. (epoll itself does not need it: EPOLL_CTL_ADD reports a descriptor that is
// already ready.)
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rt/future.hpp"
#include "rt/reactor.hpp"

namespace rt {

/// The order in which DeviceRequest::poll checks for completion and registers its waker.
enum class WaitOrder {
    register_then_check,  // the protocol above: check, register, check again
    check_then_register,  // the race: check, register, nothing more. For the tests only.
};

namespace detail {
// snippet-begin: reactor-adapters
// The only lines where the two reactors differ for a device: how a request registers its
// waker, how it takes it back, and how a completion is told.
inline void register_waker(WakeAllReactor& reactor, Token, const Waker& waker) {
    reactor.register_waker(waker);
}
inline void register_waker(KeyedReactor& reactor, Token key, const Waker& waker) {
    reactor.register_waker(key, waker);
}
// The seed's list cannot take a waker back: it stays until the next event wakes it for nothing.
inline void deregister(WakeAllReactor&, Token) {}
inline void deregister(KeyedReactor& reactor, Token key) { reactor.deregister(key); }
inline void notify(WakeAllReactor& reactor, Token) { reactor.wake_all(); }
inline void notify(KeyedReactor& reactor, Token key) { reactor.notify(key); }
// snippet-end: reactor-adapters
}  // namespace detail

template <class Reactor>
class Device;

/// The future of one device request: ready once the device has completed it.
template <class Reactor>
class DeviceRequest {
public:
    using Output = void;

    DeviceRequest(DeviceRequest&& other) noexcept
        : reactor_(other.reactor_),
          token_(other.token_),
          done_(std::move(other.done_)),
          order_(other.order_),
          gap_hook_(std::move(other.gap_hook_)),
          registered_(std::exchange(other.registered_, false)) {}
    DeviceRequest& operator=(DeviceRequest&&) = delete;

    /// Step 5: take back the registration, if any, so the reactor forgets this future.
    ~DeviceRequest() {
        if (registered_) detail::deregister(*reactor_, token_);
    }

    // snippet-begin: poll
    Poll<void> poll(Context& cx) {
        if (done()) return ready;                               // 3a
        if (gap_hook_) gap_hook_();                             // (tests: land a completion here)
        detail::register_waker(*reactor_, token_, cx.waker());  // 3b
        registered_ = true;
        if (order_ == WaitOrder::check_then_register) return pending;  // the race: no 3c
        if (done()) {                                                  // 3c
            detail::deregister(*reactor_, token_);
            registered_ = false;
            return ready;
        }
        return pending;
    }
    // snippet-end: poll

    /// The request's key: its id on the device, and its key in a KeyedReactor.
    Token token() const noexcept { return token_; }

    /// Test seam: run `hook` inside poll, after the first check of `done` and before the
    /// registration, the window in which a real completion may land at any time. A test
    /// completes the request there to make the race happen on every run.
    void between_check_and_register(std::function<void()> hook) { gap_hook_ = std::move(hook); }

private:
    friend class Device<Reactor>;
    DeviceRequest(Reactor& reactor, Token token, std::shared_ptr<std::atomic<bool>> done,
                  WaitOrder order)
        : reactor_(&reactor), token_(token), done_(std::move(done)), order_(order) {}

    // acquire: pairs with the release store in Device::finish, so what the device wrote for
    // the request before completing it (a real device: the data read) is visible here.
    bool done() const noexcept { return done_->load(std::memory_order_acquire); }

    Reactor* reactor_;  // outlives the request (see Device)
    Token token_;
    std::shared_ptr<std::atomic<bool>> done_;  // set once by the device; shared with it until then
    WaitOrder order_;
    std::function<void()> gap_hook_;  // empty except in tests
    bool registered_ = false;         // a registration may be left in the reactor
};

/// A device with its own thread. Requests complete in deadline order; each completion is
/// told to the reactor given at construction. The reactor must outlive the device and every
/// request (declare it first). Destroying the device stops its thread: requests still in
/// flight then never complete, and their futures stay pending.
template <class Reactor>
class Device {
public:
    explicit Device(Reactor& reactor)
        : reactor_(reactor), thread_([this](std::stop_token stop) { run(stop); }) {}
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;
    ~Device() {
        {
            // Under the thread's mutex: otherwise the stop request and its notify could land
            // between the thread's "stop not requested" check and its wait, and the thread
            // would sleep until its next deadline, however far (a lost wakeup, again).
            std::lock_guard lock(mutex_);
            thread_.request_stop();
        }
        changed_.notify_one();
    }  // jthread joins here, before the members it uses are destroyed

    /// Submit a request that completes `latency` from now; the future waits for it.
    DeviceRequest<Reactor> request(std::chrono::nanoseconds latency,
                                   WaitOrder order = WaitOrder::register_then_check) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        const auto due = Clock::now() + std::chrono::duration_cast<Clock::duration>(latency);
        Token token = 0;
        {
            std::lock_guard lock(mutex_);
            token = next_token_++;
            in_flight_.emplace(token, done);
            deadlines_.push({due, token});
        }
        changed_.notify_one();  // the new deadline may be earlier than the one slept for
        return DeviceRequest<Reactor>(reactor_, token, std::move(done), order);
    }

    /// Complete request `token` now, on the calling thread, as if its latency had passed.
    /// Returns false if it was complete already. Tests use it to choose the moment.
    bool complete(Token token) {
        std::shared_ptr<std::atomic<bool>> done;
        {
            std::lock_guard lock(mutex_);
            auto node = in_flight_.extract(token);
            if (node.empty()) return false;
            done = std::move(node.mapped());
        }
        finish(token, *done);
        return true;
    }

    /// Requests submitted so far.
    std::uint64_t submitted() const {
        std::lock_guard lock(mutex_);
        return next_token_ - 1;
    }

    /// Requests completed and told to the reactor so far. acquire: pairs with the release in
    /// finish(), so the wakes of every completion counted here have been delivered.
    std::uint64_t completed() const noexcept { return completed_.load(std::memory_order_acquire); }

private:
    using Clock = std::chrono::steady_clock;
    using Deadline = std::pair<Clock::time_point, Token>;

    // snippet-begin: finish
    /// Step 2 of the protocol: `done` first, then the reactor. Never under our own lock.
    void finish(Token token, std::atomic<bool>& done) {
        done.store(true, std::memory_order_release);  // pairs with DeviceRequest::done()
        detail::notify(reactor_, token);
        completed_.fetch_add(1, std::memory_order_release);  // pairs with completed()
    }
    // snippet-end: finish

    void run(std::stop_token stop) {
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            if (deadlines_.empty()) {
                changed_.wait(lock);
                continue;
            }
            const auto [due, token] = deadlines_.top();
            if (Clock::now() < due) {
                changed_.wait_until(lock, due);  // or until an earlier request arrives
                continue;
            }
            deadlines_.pop();
            auto node = in_flight_.extract(token);
            if (node.empty()) continue;  // completed early by complete()
            lock.unlock();  // the reactor's lock, then the ready queue's: never with ours
            finish(token, *node.mapped());
            lock.lock();
        }
    }

    Reactor& reactor_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;  // a request was submitted, or stop was requested
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>>
        deadlines_;  // guarded by mutex_; earliest first, may hold completed ones
    std::unordered_map<Token, std::shared_ptr<std::atomic<bool>>>
        in_flight_;         // guarded by mutex_; submitted and not yet completed
    Token next_token_ = 1;  // guarded by mutex_
    std::atomic<std::uint64_t> completed_{0};
    std::jthread thread_;  // last member: started after the others exist
};

}  // namespace rt
