// Exercise 02-02 (starter): oneshot::channel<T>(), one value from a Sender to a Receiver that
// is a future, woken through the waker of its latest poll. Compiles; the bodies marked
// TODO(exercise) are yours: Sender's destructor, send, is_closed; Receiver's destructor, poll.
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

/// What the two ends share. Every field is guarded by `mutex`. A suggestion for the state you
/// need; change it as you like (the tests only use the public interface).
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
        // TODO(exercise): a sender dropped without sending (not sent, not moved from) closes the
        // channel: a receiver waiting for the value must be woken, and then completes with
        // std::nullopt.
    }

    /// Send the value and wake the receiver. Uses the sender up: afterwards it is empty, as if
    /// moved from. Returns false when the receiver is gone: nobody will ever receive the value,
    /// so it is destroyed before send returns.
    bool send(T value) && {
        // TODO(exercise): hand the value over and wake the receiver if it is waiting. Once it
        // has sent, this sender is empty: its destructor must not close the channel. When the
        // receiver is gone, destroy the value and return false.
        (void)value;
        return false;
    }

    /// True when the receiver is gone, so sending is pointless (and on an empty sender).
    bool is_closed() const {
        // TODO(exercise): has the receiver been dropped?
        return false;
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
        // TODO(exercise): a receiver dropped (not moved from) closes the channel for the sender,
        // and releases the waker it kept.
    }

    /// Ready with the value or std::nullopt; pending, with this poll's waker kept, until then.
    /// Polling again after ready is a bug (the value is gone; it would answer std::nullopt).
    Poll<std::optional<T>> poll(Context& cx) {
        // TODO(exercise): ready with the value once it was sent; ready with std::nullopt once the
        // sender is gone without sending; otherwise keep a clone of cx.waker(), replacing the one
        // kept before unless it would wake the same task (Waker::will_wake), and answer pending.
        // A send may happen on another thread at any moment, even in the middle of this poll.
        (void)cx;
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
