// The I/O driver: chapter 3's keyed reactor, with the kernel as the event source. Every
// descriptor the runtime uses is registered once with one epoll instance; epoll_wait reports
// which became readable or writable; the driver records that as the descriptor's readiness
// and wakes the task waiting for it. The executor's thread calls epoll_wait itself when it
// has nothing to run (rt/executor.hpp), so waiting for a thousand sockets costs one system
// call and no thread.
//
// Per descriptor, a ScheduledIo holds its readiness and two wakers, one for the task that
// reads and one for the task that writes: a socket's reader and writer wait for different
// things, often in different tasks.
//
// Edge-triggered registration, and the rule it imposes. A descriptor is registered once,
// with EPOLLET: epoll reports events, not a state (becoming readable, and on Linux each new
// arrival of data as well), so the driver never has to re-arm anything (as it would with
// EPOLLONESHOT), and a socket that stays readable is not reported on every epoll_wait. The
// price is a rule: a task may only wait for readiness after a system call said EAGAIN. If it
// stopped reading with data left, nothing would report that data again: it would wait for
// the peer's next bytes, for ever if none come. Here the rule is kept by construction:
// readiness, once set, stays set until AsyncFd::poll_io sees EAGAIN and clears it, so a task
// that stops early finds it still set next time.
//
// The tick, and the race it closes. Clearing readiness after EAGAIN must not erase an event
// that arrived after the EAGAIN: the read found nothing, new data arrived, epoll reported it
// and the driver set readiness again, and only then does the task clear it. epoll will not
// report those bytes again, and the task would wait for the peer's next bytes, for ever if
// none come. So every report increments the ScheduledIo's tick; poll_ready hands the tick out
// with the readiness it saw, and clear_ready clears only if the tick is still the same, i.e.
// if nothing was reported since.
// (With one thread, the driver cannot run between a task's read and its clear; chapter 8
// runs the driver on one worker while tasks run on another, and the tick is what keeps this
// code correct there. Tokio's ScheduledIo does the same with a tick packed into its
// readiness word.)
#pragma once

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

#include "rt/future.hpp"
#include "rt/sync/spin_lock.hpp"

namespace rt {

/// What a task waits for on a descriptor.
enum class Interest { readable, writable };

/// A snapshot of a descriptor's readiness, as poll_ready saw it.
struct ReadyEvent {
    std::uint32_t tick;   // the ScheduledIo's tick when this was seen
    std::uint32_t ready;  // the readiness bits that matched the interest
};

namespace detail {

// snippet-begin: readiness-bits
/// Readiness bits. A system call that says EAGAIN clears the bits it was tried on, all but
/// the closed ones, which are final: a closed direction stays closed.
inline constexpr std::uint32_t readable = 1;
inline constexpr std::uint32_t writable = 2;
inline constexpr std::uint32_t read_closed = 4;   // EPOLLRDHUP or EPOLLHUP: the peer is done
inline constexpr std::uint32_t write_closed = 8;  // EPOLLHUP: nothing can be written
inline constexpr std::uint32_t failed = 16;       // EPOLLERR: the next call returns the error
inline constexpr std::uint32_t priority = 32;     // EPOLLPRI: TCP urgent data is queued
// snippet-end: readiness-bits

/// The bits that let a task with this interest try its system call.
constexpr std::uint32_t mask_of(Interest interest) {
    return interest == Interest::readable ? (readable | read_closed | failed | priority)
                                          : (writable | write_closed | failed);
}

/// What a system call's EAGAIN clears of the bits it was tried on: everything but the final
/// closed bits. The error bit too: a call that consumed the error (it returned it) and then
/// heard EAGAIN has nothing more to report, and a `failed` bit left set would send poll_io
/// round its loop for ever, each call answering EAGAIN (Tokio clears it the same way).
inline constexpr std::uint32_t cleared_by_eagain = readable | writable | failed | priority;

/// One registered descriptor's readiness and the wakers waiting on it. Its address is the
/// epoll registration's data, so it never moves (it lives on the heap, owned by an AsyncFd).
class ScheduledIo {
public:
    // snippet-begin: poll-ready
    /// Ready with the readiness matching `interest` if there is any; otherwise keep cx's
    /// waker in the slot for that interest and answer pending.
    Poll<ReadyEvent> poll_ready(Context& cx, Interest interest) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after it
        std::lock_guard lock(mutex_);
        const std::uint32_t ready = ready_ & mask_of(interest);
        if (ready != 0) return ReadyEvent{tick_, ready};
        std::optional<Waker>& slot = interest == Interest::readable ? reader_ : writer_;
        if (!slot || !slot->will_wake(cx.waker())) replaced = std::exchange(slot, cx.waker());
        return pending;
    }

    /// A system call said EAGAIN after `event` was seen: clear what it saw, unless a new
    /// event was reported since (the tick moved on), which must not be lost.
    void clear_ready(ReadyEvent event) {
        std::lock_guard lock(mutex_);
        if (tick_ == event.tick) ready_ &= ~(event.ready & cleared_by_eagain);
    }
    // snippet-end: poll-ready

    // snippet-begin: set-ready
    /// The driver's half: epoll reported `bits`. Record them, move the tick on, and hand
    /// over the wakers of the tasks whose interest they satisfy, for the driver to wake.
    void set_ready(std::uint32_t bits, std::vector<Waker>& to_wake) {
        std::lock_guard lock(mutex_);
        ready_ |= bits;
        ++tick_;
        if ((bits & mask_of(Interest::readable)) != 0 && reader_) {
            to_wake.push_back(std::move(*reader_));
            reader_.reset();
        }
        if ((bits & mask_of(Interest::writable)) != 0 && writer_) {
            to_wake.push_back(std::move(*writer_));
            writer_.reset();
        }
    }
    // snippet-end: set-ready

    /// The descriptor is being deregistered: let go of the wakers now (they hold tasks),
    /// although this object lives on until the driver's next turn (Poller::deregister).
    void drop_wakers() {
        std::optional<Waker> reader;  // declared before the lock: dropped after it
        std::optional<Waker> writer;
        std::lock_guard lock(mutex_);
        reader.swap(reader_);
        writer.swap(writer_);
    }

    ScheduledIo* next_released = nullptr;  // Poller's list of deregistered ones (below)

private:
    SpinLock mutex_;               // new in chapter 7: one byte, not std::mutex's 40
    std::uint32_t ready_ = 0;      // guarded by mutex_; readiness bits above
    std::uint32_t tick_ = 0;       // guarded by mutex_; counts set_ready calls
    std::optional<Waker> reader_;  // guarded by mutex_; the task waiting to read
    std::optional<Waker> writer_;  // guarded by mutex_; the task waiting to write
};

/// Translate epoll's event bits to readiness bits.
constexpr std::uint32_t readiness_of(std::uint32_t events) {
    std::uint32_t bits = 0;
    if ((events & EPOLLIN) != 0) bits |= readable;
    if ((events & EPOLLOUT) != 0) bits |= writable;
    if ((events & EPOLLRDHUP) != 0) bits |= readable | read_closed;
    if ((events & EPOLLHUP) != 0) bits |= readable | writable | read_closed | write_closed;
    if ((events & EPOLLERR) != 0) bits |= readable | writable | failed;
    if ((events & EPOLLPRI) != 0) bits |= readable | priority;
    return bits;
}

/// The epoll instance. Shared (shared_ptr) by the driver and every registration, so that a
/// descriptor that outlives its runtime can still deregister from a valid epoll descriptor.
///
/// Releasing a registration, from any thread, without freeing memory an event still points to.
/// An AsyncFd may be destroyed on another thread than the driver's (a stream handed over
/// through a JoinHandle or a channel): the driver's epoll_wait may already have returned an
/// event whose data is that ScheduledIo's address, and be about to call set_ready on it. So
/// the ScheduledIo is not freed at deregistration:
///  1. deregister: EPOLL_CTL_DEL, so that no later epoll_wait reports the descriptor; drop
///     the wakers; push the ScheduledIo onto `released_` (a lock-free stack);
///  2. the driver, at the start of each turn (before its epoll_wait), frees everything on
///     the stack. An event for a ScheduledIo on the stack can only come from an epoll_wait
///     that returned before its EPOLL_CTL_DEL, that is from an earlier turn, whose events
///     the driver has finished with (it is the one thread that handles events).
/// A ScheduledIo deregistered during a turn is thus freed at the next one (Tokio's driver
/// defers the release the same way). When the Poller itself goes, the stack goes with it.
class Poller {
public:
    Poller() : fd_(::epoll_create1(EPOLL_CLOEXEC)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
    }
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;
    ~Poller() {
        free_released();  // the driver and every registration are gone: no event is pending
        ::close(fd_);
    }

    /// Watch `fd`, edge-triggered, for both directions and urgent data (or only for
    /// `events`); `io` comes back with its events.
    void add(int fd, ScheduledIo* io,
             std::uint32_t events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET) {
        epoll_event event{};
        event.events = events;
        event.data.ptr = io;
        if (::epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &event) < 0) {
            throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
        }
        watched_.fetch_add(1, std::memory_order_relaxed);
    }

    /// Step 1: stop watching `fd` (before it is closed), and hand `io` over to be freed at
    /// the driver's next turn. Any thread.
    void deregister(int fd, std::unique_ptr<ScheduledIo> io) noexcept {
        ::epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr);
        watched_.fetch_sub(1, std::memory_order_relaxed);
        io->drop_wakers();
        ScheduledIo* released = io.release();
        released->next_released = released_.load(std::memory_order_relaxed);
        // release: pairs with the acquire exchange in free_released, which then sees the
        // link and everything this thread did to the ScheduledIo.
        while (!released_.compare_exchange_weak(released->next_released, released,
                                                std::memory_order_release,
                                                std::memory_order_relaxed)) {
        }
    }

    /// Step 2: free what was deregistered. The driver's thread, between two turns.
    void free_released() noexcept {
        // relaxed: a push missed here is freed at the next turn; the exchange acquires.
        if (released_.load(std::memory_order_relaxed) == nullptr) return;
        ScheduledIo* io = released_.exchange(nullptr, std::memory_order_acquire);
        while (io != nullptr) {
            delete std::exchange(io, io->next_released);
        }
    }

    int fd() const noexcept { return fd_; }

    /// How many descriptors are watched, the ready queue's eventfd included (new in chapter
    /// 7). Relaxed: a registration this thread has not seen yet only postpones its events to
    /// a later turn; epoll keeps them until then.
    std::size_t watched() const noexcept { return watched_.load(std::memory_order_relaxed); }

private:
    int fd_;                                       // the epoll descriptor
    std::atomic<std::size_t> watched_{0};          // add() minus deregister()
    std::atomic<ScheduledIo*> released_{nullptr};  // deregistered, to free at the next turn
};

// snippet-begin: driver
/// The driver: waits for events and hands them to their ScheduledIo. Executor thread only.
class IoDriver {
public:
    /// `wake_fd` is the ready queue's eventfd: a push from another thread makes it readable.
    explicit IoDriver(int wake_fd) : poller_(std::make_shared<Poller>()), wake_fd_(wake_fd) {
        // data.ptr null: "the queue was pushed". Readable only: an eventfd is always writable,
        // and its EPOLLOUT edges would end epoll_wait for nothing.
        poller_->add(wake_fd_, nullptr, EPOLLIN | EPOLLET);
    }

    /// Whether a turn(0) could find anything: some descriptor besides the ready queue's
    /// eventfd is watched. The eventfd is written only while the executor is parked, so a
    /// busy executor with no socket asks the kernel for nothing (new in chapter 7: on the
    /// benchmarks' yield_many that was an epoll_wait every 61 polls, a sixth of the time).
    bool watching_sockets() const noexcept { return poller_->watched() > 1; }

    /// Wait up to `timeout_ms` for events (-1: until one comes; 0: only collect what is
    /// there), record each as readiness, then wake the tasks. Returns how many events came.
    ///
    /// It starts by freeing the ScheduledIos deregistered since the last turn (Poller,
    /// step 2): no event of this turn's epoll_wait can point to them.
    ///
    /// `after_wait` runs as soon as epoll_wait returns, before any wake: the executor ends its
    /// park there, so the wakes below, made on its own thread, do not write the eventfd.
    template <class AfterWait>
    std::size_t turn(int timeout_ms, AfterWait&& after_wait) {
        poller_->free_released();
        const int count = ::epoll_wait(poller_->fd(), events_.data(),
                                       static_cast<int>(events_.size()), timeout_ms);
        after_wait();
        if (count < 0) {
            if (errno == EINTR) return 0;  // a signal: the caller's loop comes back
            throw std::system_error(errno, std::generic_category(), "epoll_wait");
        }
        for (int i = 0; i < count; ++i) {
            auto* io = static_cast<ScheduledIo*>(events_[static_cast<std::size_t>(i)].data.ptr);
            if (io == nullptr) {
                std::uint64_t pushes = 0;  // empty the eventfd; the tasks are in the queue
                [[maybe_unused]] const ssize_t bytes = ::read(wake_fd_, &pushes, sizeof pushes);
            } else {
                io->set_ready(readiness_of(events_[static_cast<std::size_t>(i)].events), to_wake_);
            }
        }
        for (Waker& waker : to_wake_) std::move(waker).wake();
        to_wake_.clear();
        return static_cast<std::size_t>(count);
    }
    // snippet-end: driver

    /// Collect events without waiting, from a running (not parked) executor.
    std::size_t turn(int timeout_ms) {
        return turn(timeout_ms, [] {});
    }

    std::shared_ptr<Poller> poller() const { return poller_; }

private:
    std::shared_ptr<Poller> poller_;
    int wake_fd_;                            // the ready queue's eventfd (the queue owns it)
    std::array<epoll_event, 256> events_{};  // one epoll_wait's events
    std::vector<Waker> to_wake_;             // the batch's wakers, woken after it
};

}  // namespace detail
}  // namespace rt
