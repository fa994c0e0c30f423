// sync::oneshot: one value from a Sender to a Receiver, the channel of exercise 02-02, now
// part of the runtime. The Receiver is a Future, so a coroutine simply awaits it:
// `std::optional<int> value = co_await std::move(receiver);` (std::nullopt when the sender was
// dropped without sending). The receiver is woken once, through the waker of its latest
// pending poll, when the value is sent or the sender is dropped; no wake is lost, whichever
// thread does what. Every value sent is destroyed exactly once: by whoever receives it, or with
// the channel when nobody does (before send returns, when the receiver was gone already).
//
// Why a lock and not atomics: each side must *check* the other's progress and *publish* its
// own as one step ("no value yet, so here is my waker" against "here is the value, so give me
// the waker"). Under one lock each of those is a critical section of a few instructions, and
// at most two parties ever contend, so the lock costs next to nothing and the protocol is
// plain to see. (New in chapter 7: the lock is a one-byte SpinLock instead of a std::mutex,
// and the shared state comes from the frame pool; both were measured on the benchmarks'
// ping_pong, which makes two channels per ping.) Tokio's oneshot packs the same states into one
// atomic word (VALUE_SENT, CLOSED, RX_TASK_SET, ...) and does the checks with compare-and-swap
// loops, which never block but are much harder to get right; chapter 8 shows that style where the
// lock would be hot.
//
// New in chapter 7: one allocation and no reference count. Until now the two ends shared the
// state through a std::shared_ptr, whose count is an atomic read-modify-write once the process
// has a second thread: about five per channel, to copy the pointer into both ends and drop
// every copy. Yet the state already records, under its lock, which end has left, and a channel
// has exactly two owners: the end that leaves second is the last one, and frees the state. So
// each end holds a plain pointer, and a receiver that is ready frees the state at once, which
// spares its destructor the lock. On ping_pong the figure went from 308 to 233 ns/ping (-24%;
// medians of five runs each, alternated, against the shared_ptr version, on one machine).
//
// The protocol, and the race each step avoids:
//  - Receiver::poll sees that the sender is gone, or stores its waker, under the lock that
//    send and the sender's destructor take to mark the sender gone and take the waker. So
//    either poll sees the sender gone, or the sender sees the waker. Checking and then storing
//    the waker without the lock would let a send slip in between: it finds no waker to wake,
//    and the receiver, now waiting, is never woken.
//  - the value is written by send before it takes the lock to mark the sender gone, and read
//    by poll only after it has seen that mark under the lock. The lock orders the two (what is
//    written before an unlock is seen after the next lock), so neither holds it meanwhile, and
//    no T is moved under it (new in chapter 7: a SpinLock's critical sections must not call
//    out, and a T's move constructor is the user's code).
//  - poll replaces the stored waker when it would not wake the same task (!will_wake): the
//    receiver may have moved to another task, or be polled by another task now, and only the
//    task that polled last is waiting for it. Waking an older waker would wake the wrong task.
//  - wakes happen after the lock is released, and old wakers are dropped after it too: waking
//    takes the executor's locks, and dropping the last reference to a task may destroy a
//    future that holds this channel's other end, whose destructor takes this lock again.
//  - dropping the sender without sending is an event too: it wakes the receiver, which then
//    completes with "no value" instead of waiting for ever.
//  - dropping the receiver marks the channel, so that a later send reports false, and releases
//    the stored waker, which would otherwise keep a task alive.
//  - who frees the state (new in chapter 7): each end leaves once and then holds no pointer to
//    it; the sender when it sends or is dropped, the receiver when it is destroyed or ready. An
//    end leaving sets its own flag and reads the other's in one critical section, so only the
//    second to leave finds the other's flag set: it is the last, and frees the state (with a
//    value nobody took) after its own unlock. A receiver that is ready has seen the sender's
//    flag already, so it frees at once, without setting its own: nobody is left to read it.
//    Freeing right after the unlock is safe: the other end's last touch of the state was the
//    unlock that ended its critical section, and the last end's lock came after it (it saw the
//    flag set within). Freeing before its own unlock would not be: the unlock writes to the
//    lock, inside the state.
#pragma once

#include <cassert>
#include <cstddef>
#include <mutex>
#include <new>
#include <optional>
#include <utility>

#include "rt/coop.hpp"
#include "rt/frame_pool.hpp"
#include "rt/future.hpp"
#include "rt/sync/spin_lock.hpp"
#include "rt/waker.hpp"

namespace rt::sync::oneshot {

namespace detail {

/// What the two ends share, freed by the second of them to leave (the protocol above). The
/// flags and the waker are guarded by `lock`; the value is the sender's until it sets
/// `sender_gone`, the receiver's after.
template <class T>
struct Shared {
    rt::detail::SpinLock lock;
    bool sender_gone = false;    // the sender sent or was dropped: nothing more will come
    bool receiver_gone = false;  // the receiver was dropped: a value sent now is destroyed
    std::optional<Waker> waker;  // the waker of the receiver's latest pending poll
    std::optional<T> value;      // the value sent, until the receiver takes it

    Shared() = default;
    Shared(const Shared&) = delete;
    Shared& operator=(const Shared&) = delete;

    /// From the frame pool, as tasks are (rt/frame_pool.hpp): a channel lives as briefly.
    static void* operator new(std::size_t size) { return rt::detail::FramePool::allocate(size); }
    static void operator delete(void* shared, std::size_t size) noexcept {
        rt::detail::FramePool::deallocate(shared, size);
    }
    /// A T aligned beyond what operator new gives (alignas(64)) makes Shared so too: `new`
    /// then passes the alignment, and the state bypasses the pool, whose blocks are aligned
    /// like operator new only.
    static void* operator new(std::size_t size, std::align_val_t align) {
        return ::operator new(size, align);
    }
    static void operator delete(void* shared, std::size_t, std::align_val_t align) noexcept {
        ::operator delete(shared, align);  // unsized: clang declares the sized one only on request
    }
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
    Sender(Sender&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}
    Sender& operator=(Sender&& other) noexcept {
        Sender old(std::move(other));
        std::swap(shared_, old.shared_);
        return *this;  // `old` now holds what this sender held, and closes it
    }

    ~Sender() {
        if (shared_ != nullptr) leave();  // not sent, and not moved from: close the channel
    }

    /// Send the value and wake the receiver. Uses the sender up: afterwards it is empty, as if
    /// moved from. Returns false when the receiver is gone: nobody will ever receive the value,
    /// so it is destroyed before send returns.
    bool send(T value) && {
        assert(shared_ != nullptr && "send on a sender that has sent or was moved from");
        // Without the lock: the receiver reads the value only once leave() has marked the
        // sender gone. Should the move throw, the sender is still whole, and closes on drop.
        shared_->value.emplace(std::move(value));
        return leave();
    }

    /// True when the receiver is gone, so sending is pointless (and on an empty sender).
    bool is_closed() const {
        if (shared_ == nullptr) return true;
        std::lock_guard guard(shared_->lock);
        return shared_->receiver_gone;
    }

private:
    friend std::pair<Sender<T>, Receiver<T>> channel<T>();
    explicit Sender(detail::Shared<T>* shared) noexcept : shared_(shared) {}

    /// Mark the sender gone and wake the receiver; or, when the receiver left first, free the
    /// state (and the value in it). Leaves this sender empty. False when the receiver was gone.
    bool leave() noexcept {
        detail::Shared<T>* const shared = std::exchange(shared_, nullptr);
        std::optional<Waker> waker;
        bool receiver_gone;
        {
            std::lock_guard guard(shared->lock);
            shared->sender_gone = true;
            receiver_gone = shared->receiver_gone;
            waker.swap(shared->waker);
        }
        if (receiver_gone) {
            delete shared;  // the last end; the receiver took its waker with it
            return false;
        }
        if (waker) std::move(*waker).wake();  // outside the lock, see the protocol above
        return true;
    }

    detail::Shared<T>* shared_;  // null once sent or moved from
};

/// The receiving end, a future. Ready with the value, or with std::nullopt when the sender was
/// dropped without sending (Tokio's RecvError). Unlike most futures it may move between polls,
/// even to another task: it is only a handle to the shared state.
template <class T>
class Receiver {
public:
    using Output = std::optional<T>;

    Receiver(Receiver&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}
    Receiver& operator=(Receiver&& other) noexcept {
        Receiver old(std::move(other));
        std::swap(shared_, old.shared_);
        return *this;  // `old` now holds what this receiver held, and lets it go
    }

    ~Receiver() {
        if (shared_ == nullptr) return;  // ready (the state is freed already), or moved from
        std::optional<Waker> waker;      // declared before the lock: dropped after its unlock
        bool sender_gone;
        {
            std::lock_guard guard(shared_->lock);
            shared_->receiver_gone = true;
            sender_gone = shared_->sender_gone;
            waker.swap(shared_->waker);
        }
        if (sender_gone) delete shared_;  // the last end, with the value if it was never taken
    }

    /// Ready with the value or std::nullopt; pending, with this poll's waker kept, until then.
    /// Ready, the receiver has left the channel: polling it again is a bug (asserted).
    Poll<std::optional<T>> poll(Context& cx) {
        assert(shared_ != nullptr && "poll of a receiver that is ready already, or moved from");
        if (!coop::proceed(cx)) return pending;  // new in chapter 9: the budget (rt/coop.hpp)
        {
            std::optional<Waker> replaced;  // declared before the lock: dropped after its unlock
            std::lock_guard guard(shared_->lock);
            if (!shared_->sender_gone) {
                if (!shared_->waker || !shared_->waker->will_wake(cx.waker())) {
                    // Clone the new waker (it only counts a reference), keep the old one aside.
                    replaced = std::exchange(shared_->waker, cx.waker());
                }
                return pending;
            }
        }
        // The sender has left, so this end is the last: it takes the value (its own now, see
        // the protocol) and frees the state at once, which leaves the destructor nothing to do.
        detail::Shared<T>* const shared = std::exchange(shared_, nullptr);
        std::optional<T> value = std::move(shared->value);
        delete shared;
        coop::spend();
        return value;
    }

private:
    friend std::pair<Sender<T>, Receiver<T>> channel<T>();
    explicit Receiver(detail::Shared<T>* shared) noexcept : shared_(shared) {}

    detail::Shared<T>* shared_;  // null once ready or moved from
};

template <class T>
std::pair<Sender<T>, Receiver<T>> channel() {
    auto* const shared = new detail::Shared<T>();  // one allocation, from the frame pool
    return {Sender<T>(shared), Receiver<T>(shared)};
}

}  // namespace rt::sync::oneshot
