// sync::oneshot: one value from a Sender to a Receiver, the channel of exercise 02-02, now
// part of the runtime. The Receiver is a Future, so a coroutine simply awaits it:
// `std::optional<int> value = co_await std::move(receiver);` (std::nullopt when the sender was
// dropped without sending). The receiver is woken once, through the waker of its latest
// pending poll, when the value is sent or the sender is dropped; no wake is lost, whichever
// thread does what.
//
// Why a mutex and not atomics: each side must *check* the other's progress and *publish* its
// own as one step ("no value yet, so here is my waker" against "here is the value, so give me
// the waker"). Under one mutex each of those is a critical section of a few instructions, and
// at most two parties ever contend, so the lock costs next to nothing and the protocol is
// plain to see. Tokio's oneshot packs the same states into one atomic word (VALUE_SENT,
// CLOSED, RX_TASK_SET, ...) and does the checks with compare-and-swap loops, which never block
// but are much harder to get right; chapter 8 shows that style where the lock would be hot.
//
// The protocol, and the race each step avoids:
//  - Receiver::poll takes the value, or sees that the sender is gone, or stores its waker, all
//    under the lock that send and the sender's destructor take to store the value (or mark the
//    channel closed) and take the waker. So either poll sees the value, or send sees the
//    waker. Checking and then storing the waker without the lock would let a send slip in
//    between: it finds no waker to wake, and the receiver, now waiting, is never woken.
//  - poll replaces the stored waker when it would not wake the same task (!will_wake): the
//    receiver may have moved to another task, or be polled by another task now, and only the
//    task that polled last is waiting for it. Waking an older waker would wake the wrong task.
//  - wakes happen after the lock is released, and old wakers are dropped after it too: waking
//    takes the executor's locks, and dropping the last reference to a task may destroy a
//    future that holds this channel's other end, whose destructor takes this lock again.
//  - dropping the sender without sending is an event too: it wakes the receiver, which then
//    completes with "no value" instead of waiting for ever.
//  - dropping the receiver marks the channel, so that a later send destroys its value at once
//    and reports false, and releases the stored waker, which would otherwise keep a task alive.
#pragma once

#include <cassert>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include "rt/future.hpp"
#include "rt/waker.hpp"

namespace rt::sync::oneshot {

namespace detail {

/// What the two ends share. Every field is guarded by `mutex`.
template <class T>
struct Shared {
    std::mutex mutex;
    std::optional<T> value;      // the value sent, until the receiver takes it
    bool sender_gone = false;    // the sender sent or was dropped: nothing more will come
    bool receiver_gone = false;  // the receiver was dropped: a value sent now is destroyed
    std::optional<Waker> waker;  // the waker of the receiver's latest pending poll
};

}  // namespace detail

template <class T>
class Sender;
template <class T>
class Receiver;

/// A new channel: the sending end and the receiving end.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel();

/// The sending end: sends one value, with `std::move(sender).send(value)`. Dropping it without
/// sending closes the channel, and the receiver completes with std::nullopt.
template <class T>
class Sender {
public:
    Sender(Sender&& other) noexcept = default;
    Sender& operator=(Sender&& other) noexcept {
        Sender old(std::move(other));
        std::swap(shared_, old.shared_);
        return *this;  // `old` now holds what this sender held, and closes it
    }

    ~Sender() {
        if (shared_ == nullptr) return;  // sent, or moved from: nothing left to do
        std::optional<Waker> waker;
        {
            std::lock_guard lock(shared_->mutex);
            shared_->sender_gone = true;
            waker.swap(shared_->waker);
        }
        if (waker) std::move(*waker).wake();  // outside the lock, see the protocol above
    }

    /// Send the value and wake the receiver. Uses the sender up: afterwards it is empty, as if
    /// moved from. Returns false when the receiver is gone: nobody will ever receive the value,
    /// so it is destroyed before send returns.
    bool send(T value) && {
        assert(shared_ != nullptr && "send on a sender that has sent or was moved from");
        const std::shared_ptr<detail::Shared<T>> shared = std::move(shared_);
        std::optional<Waker> waker;
        {
            std::lock_guard lock(shared->mutex);
            if (shared->receiver_gone) return false;  // `value` dies after the lock is released
            shared->value.emplace(std::move(value));
            shared->sender_gone = true;
            waker.swap(shared->waker);
        }
        if (waker) std::move(*waker).wake();  // outside the lock, see the protocol above
        return true;
    }

    /// True when the receiver is gone, so sending is pointless (and on an empty sender).
    bool is_closed() const {
        if (shared_ == nullptr) return true;
        std::lock_guard lock(shared_->mutex);
        return shared_->receiver_gone;
    }

private:
    friend std::pair<Sender<T>, Receiver<T>> channel<T>();
    explicit Sender(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {}

    std::shared_ptr<detail::Shared<T>> shared_;  // null once sent or moved from
};

/// The receiving end, a future. Ready with the value, or with std::nullopt when the sender was
/// dropped without sending (Tokio's RecvError). Unlike most futures it may move between polls,
/// even to another task: it is only a handle to the shared state.
template <class T>
class Receiver {
public:
    using Output = std::optional<T>;

    Receiver(Receiver&& other) noexcept = default;
    Receiver& operator=(Receiver&& other) noexcept {
        Receiver old(std::move(other));
        std::swap(shared_, old.shared_);
        return *this;  // `old` now holds what this receiver held, and lets it go
    }

    ~Receiver() {
        if (shared_ == nullptr) return;  // moved from
        std::optional<Waker> waker;      // declared before the lock: destroyed after it
        std::lock_guard lock(shared_->mutex);
        shared_->receiver_gone = true;
        waker.swap(shared_->waker);
    }

    /// Ready with the value or std::nullopt; pending, with this poll's waker kept, until then.
    /// Polling again after ready is a bug (the value is gone; it would answer std::nullopt).
    Poll<std::optional<T>> poll(Context& cx) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after it
        std::lock_guard lock(shared_->mutex);
        if (shared_->value) return std::exchange(shared_->value, std::nullopt);
        if (shared_->sender_gone) return std::optional<T>();
        if (!shared_->waker || !shared_->waker->will_wake(cx.waker())) {
            // Clone the new waker (it only counts a reference) and keep the old one aside.
            replaced = std::exchange(shared_->waker, cx.waker());
        }
        return pending;
    }

private:
    friend std::pair<Sender<T>, Receiver<T>> channel<T>();
    explicit Receiver(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {}

    std::shared_ptr<detail::Shared<T>> shared_;  // null once moved from
};

template <class T>
std::pair<Sender<T>, Receiver<T>> channel() {
    auto shared = std::make_shared<detail::Shared<T>>();
    return {Sender<T>(shared), Receiver<T>(shared)};
}

}  // namespace rt::sync::oneshot
