// Test helpers for futures: a waker that counts what is done to it, and a way to poll a
// future by hand. They let a test assert that a future keeps the waker contract
// (common/include/rt/future.hpp) without any executor.
#pragma once

#include <atomic>
#include <memory>

#include "rt/context.hpp"
#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace testing {

/// Counts wakes, clones and drops of the wakers made from it. Thread-safe, so a test can
/// wake from other threads. The counters outlive every waker made from them.
class CountingWaker {
public:
    struct Counts {
        std::atomic<int> wakes{0};   // wake + wake_by_ref
        std::atomic<int> clones{0};  // wakers made by copying
        std::atomic<int> drops{0};   // wakers destroyed without waking
        std::atomic<int> alive{0};   // wakers that exist now
    };

    CountingWaker() : counts_(std::make_shared<Counts>()) {}

    /// A new waker that reports to this counter.
    rt::Waker waker() const {
        counts_->alive.fetch_add(1);
        return rt::Waker(rt::RawWaker{new std::shared_ptr<Counts>(counts_), &vtable});
    }

    int wakes() const { return counts_->wakes.load(); }
    int clones() const { return counts_->clones.load(); }
    int drops() const { return counts_->drops.load(); }
    int alive() const { return counts_->alive.load(); }

private:
    using Ref = std::shared_ptr<Counts>;
    static const Ref& ref(const void* data) { return *static_cast<const Ref*>(data); }

    static rt::RawWaker clone(const void* data) {
        ref(data)->clones.fetch_add(1);
        ref(data)->alive.fetch_add(1);
        return rt::RawWaker{new Ref(ref(data)), &vtable};
    }
    static void wake(const void* data) {
        ref(data)->wakes.fetch_add(1);
        ref(data)->alive.fetch_sub(1);
        delete static_cast<const Ref*>(data);
    }
    static void wake_by_ref(const void* data) { ref(data)->wakes.fetch_add(1); }
    static void drop(const void* data) {
        ref(data)->drops.fetch_add(1);
        ref(data)->alive.fetch_sub(1);
        delete static_cast<const Ref*>(data);
    }
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};

    std::shared_ptr<Counts> counts_;
};

/// Poll a future once with the given waker.
template <rt::Future F>
rt::Poll<typename F::Output> poll_once(F& future, const rt::Waker& waker) {
    rt::Context cx(waker);
    return future.poll(cx);
}

/// Poll a future once with a no-op waker.
template <rt::Future F>
rt::Poll<typename F::Output> poll_once(F& future) {
    rt::Waker waker = rt::noop_waker();
    return poll_once(future, waker);
}

/// A future that polls `future` once, in whatever task polls it, and is ready at once with
/// whether `future` was ready. With an executor's block_on, it leaves a future registered
/// where it waits (a timer in the wheel, a socket's waker) without waiting for anything.
template <rt::Future F>
struct PollOnce {
    using Output = bool;
    F& future;
    rt::Poll<bool> poll(rt::Context& cx) { return future.poll(cx).is_ready(); }
};

}  // namespace testing
