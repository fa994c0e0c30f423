// rt::sync::Event: a flag that is set once and never cleared, and a future, wait(), that is
// ready once it is set (new in chapter 9). Any number of tasks, on any threads, may wait; set()
// wakes them all. A server's graceful shutdown tells its connections "finish up" and later
// "stop now" with two of them (http/server.hpp). Tokio's counterpart is tokio_util's
// CancellationToken (cancel(), cancelled()); asyncio calls it an Event.
//
// The protocol, and the lost wakeup each step avoids:
//  1. set() stores the flag, then takes every waker from the list, both under the mutex, and
//     wakes them after its unlock;
//  2. a Wait's first pending poll loads the flag and, if it is clear, leaves its waker in the
//     list, both under the same mutex: either it sees the flag, or set() finds its waker;
//  3. a later poll of the same Wait, with the same waker, loads the flag without the mutex,
//     and if it is clear returns pending at once: its waker is still in the list (only set()
//     takes it out, and set() stores the flag first), so the wake cannot be lost. This is what
//     makes waiting cheap for a future that is polled again and again for other reasons: a
//     connection polls its "finish up" Wait beside every read, and would otherwise take one
//     mutex, shared by every connection, per read.
// The flag is atomic for step 3 only; its release store in step 1 and acquire load in step 3
// also make what the setter wrote before set() visible to the waiter that sees it.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>

#include "rt/future.hpp"
#include "rt/sync/waiter_list.hpp"

namespace rt::sync {

class Event {
public:
    Event() = default;
    Event(const Event&) = delete;  // its Waits point to it
    Event& operator=(const Event&) = delete;

    /// Set the flag, and wake every task waiting for it (step 1). Setting it again does nothing.
    void set() {
        decltype(waiting_.take_all()) to_wake;
        {
            std::lock_guard lock(mutex_);
            if (set_.load(std::memory_order_relaxed)) return;
            set_.store(true, std::memory_order_release);
            to_wake = waiting_.take_all();
        }
        for (auto& entry : to_wake) entry.second.wake_by_ref();
    }

    bool is_set() const noexcept { return set_.load(std::memory_order_acquire); }

    /// The future of wait(): ready once the event is set. It may be polled again after it was
    /// ready (it stays ready), so a loop can keep one Wait and poll it beside other futures.
    class Wait {
    public:
        using Output = void;

        explicit Wait(Event& event) noexcept : event_(&event) {}
        Wait(Wait&& other) noexcept
            : event_(other.event_),
              slot_(std::exchange(other.slot_, WaiterList::no_slot)),
              kept_(std::exchange(other.kept_, std::nullopt)) {}
        Wait& operator=(Wait&&) = delete;
        ~Wait() { forget(); }

        // snippet-begin: wait-poll
        Poll<void> poll(Context& cx) {
            if (event_->is_set()) {
                forget();
                return ready;
            }
            if (kept_ && kept_->will_wake(cx.waker())) return pending;  // step 3
            if (event_->ready_or_wait(slot_, cx.waker())) {
                kept_.reset();
                return ready;
            }
            kept_ = cx.waker();  // after the unlock, like every waker dropped here
            return pending;
        }
        // snippet-end: wait-poll

    private:
        void forget() {
            if (slot_ != WaiterList::no_slot) event_->forget(slot_);
            kept_.reset();
        }

        Event* event_;
        std::size_t slot_ = WaiterList::no_slot;  // our entry in the event's list, if any
        std::optional<Waker> kept_;               // a copy of the waker in that entry
    };

    Wait wait() noexcept { return Wait(*this); }

private:
    /// Step 2: true if the flag is set; otherwise leave `waker` in `slot`.
    bool ready_or_wait(std::size_t& slot, const Waker& waker) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after its unlock
        std::lock_guard lock(mutex_);
        if (set_.load(std::memory_order_relaxed)) {
            replaced = waiting_.forget(slot);
            return true;
        }
        replaced = waiting_.keep(slot, waker);
        return false;
    }

    void forget(std::size_t& slot) {
        std::optional<Waker> gone;
        std::lock_guard lock(mutex_);
        gone = waiting_.forget(slot);
    }

    std::atomic<bool> set_{false};
    std::mutex mutex_;    // guards the list, and the flag's store
    WaiterList waiting_;  // the wakers of the Waits that wait, by slot
};

}  // namespace rt::sync
