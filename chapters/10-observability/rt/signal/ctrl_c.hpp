// rt::signal::ctrl_c(): a future that completes at the next Ctrl-C (SIGINT) (new in chapter 9;
// tokio::signal::ctrl_c). A server awaits it beside its accept loop, and shuts down gracefully
// when it completes, instead of being killed in the middle of a request.
//
// A signal handler may do almost nothing: it interrupts whatever the thread was doing, perhaps
// inside malloc or holding a lock, so it may not take a lock, allocate, or wake a task. It may
// write to a pipe (write(2) is async-signal-safe). This is the self-pipe trick:
//  1. the first ctrl_c() starts one thread, the listener, which blocks reading the pipe's
//     other end, and every ctrl_c() installs the handler for SIGINT (again, should other code
//     have replaced it since). From then on, Ctrl-C no longer ends the process: it is an event
//     for the program to handle (as in Tokio, for the process's life);
//  2. the handler counts the signal in an atomic counter (lock-free, so safe in a handler), and
//     writes one byte to the pipe;
//  3. the listener wakes from its read, and wakes every task waiting for Ctrl-C;
//  4. a CtrlC future is ready once the counter has passed its value when the future was made;
//     otherwise it leaves its waker in the list, under the list's mutex.
// No wake is lost between 3 and 4: the future reads the counter and leaves its waker under the
// mutex, and the listener takes the wakers under the same mutex, after the handler counted. So
// either the future sees the new count, or the listener finds its waker.
//
// Why a thread and not the I/O driver: the pipe is one descriptor for the whole process, and a
// byte read from it is gone for every other reader; every runtime, and every task in it, must
// hear of each signal. One thread that hears it and wakes them all serves any number of
// runtimes, the multi-threaded and the single-threaded alike. (signalfd(2) would spare the
// handler, but it needs SIGINT blocked in every thread of the process, those the program
// started before included, or the default action still ends it.)
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "rt/future.hpp"
#include "rt/sync/waiter_list.hpp"

namespace rt::signal {

namespace detail {

/// The process's one listener for SIGINT: the protocol above.
class Listener {
public:
    /// The listener, installed by the first call (steps 1 and 2). Throws std::system_error if
    /// the pipe, the handler or the thread cannot be made.
    static Listener& instance() {
        // Never destroyed: the listener thread uses it for as long as the process lives, static
        // destructors at exit included. Reachable from here, so no leak checker calls it one.
        static Listener* const listener = new Listener;
        install_handler();
        return *listener;
    }

    /// How many SIGINTs the process has received since the handler was installed.
    std::uint64_t received() const noexcept { return received_.load(std::memory_order_acquire); }

    /// Step 4, under the mutex: true if a signal came after `seen`; otherwise keep `waker` (in
    /// `slot`, which a future passes back each time) to wake at the next one. A future whose
    /// waker the listener took, for a signal that came before the future was made (its byte
    /// was read only now), gets its slot back and waits for the next one.
    bool ready_or_wait(std::uint64_t seen, std::size_t& slot, const Waker& waker) {
        std::optional<Waker> replaced;  // declared before the lock: dropped after its unlock
        std::lock_guard lock(mutex_);
        if (received() > seen) {
            replaced = waiting_.forget(slot);
            return true;
        }
        replaced = waiting_.keep(slot, waker);
        return false;
    }

    /// A future goes: its waker, if it left one, is dropped (after the unlock: dropping a
    /// waker may free a task, whose future may hold another CtrlC).
    void forget(std::size_t& slot) {
        if (slot == no_slot) return;
        std::optional<Waker> gone;
        std::lock_guard lock(mutex_);
        gone = waiting_.forget(slot);
    }

    static constexpr std::size_t no_slot = sync::WaiterList::no_slot;

private:
    Listener() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) < 0) throw std::system_error(errno, std::generic_category());
        read_end_ = fds[0];
        write_end = fds[1];
        // The write end never blocks the handler: a full pipe already means "wake up".
        ::fcntl(write_end, F_SETFL, O_NONBLOCK);
        counter = &received_;
        std::thread(&Listener::listen, this).detach();  // lives as long as the process
    }

    /// Step 1's handler, (re)installed by every ctrl_c(): code that set a handler of its own
    /// since (a test framework, a library) would otherwise keep SIGINT from this listener.
    static void install_handler() {
        struct sigaction action {};
        action.sa_handler = &on_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        if (::sigaction(SIGINT, &action, nullptr) < 0) {
            throw std::system_error(errno, std::generic_category());
        }
    }

    /// Step 2, in the signal handler: count, then poke the listener. Async-signal-safe only.
    // snippet-begin: handler
    static void on_signal(int) {
        const int saved = errno;
        counter->fetch_add(1, std::memory_order_release);
        const char byte = 1;
        [[maybe_unused]] const ssize_t ignored = ::write(write_end, &byte, 1);
        errno = saved;
    }
    // snippet-end: handler

    /// Step 3: the listener thread.
    void listen() {
        char bytes[64];
        for (;;) {
            const ssize_t got = ::read(read_end_, bytes, sizeof bytes);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) return;  // cannot happen while the process lives: nobody closes it
            std::vector<std::pair<std::size_t, Waker>> to_wake;
            {
                std::lock_guard lock(mutex_);
                to_wake = waiting_.take_all();
            }
            for (auto& entry : to_wake) entry.second.wake_by_ref();  // after the unlock
        }
    }

    // What the handler uses: set once, before the handler is installed.
    static inline std::atomic<std::uint64_t>* counter = nullptr;
    static inline int write_end = -1;

    std::atomic<std::uint64_t> received_{0};
    int read_end_ = -1;
    std::mutex mutex_;          // guards the list
    sync::WaiterList waiting_;  // the wakers of the futures waiting, by slot
};

}  // namespace detail

/// The future of ctrl_c(): ready at the first SIGINT after it was made. Dropping it before
/// then stops the wait; Ctrl-C stays handled (it no longer ends the process).
class CtrlC {
public:
    using Output = void;

    CtrlC() : listener_(&detail::Listener::instance()), seen_(listener_->received()) {}
    CtrlC(CtrlC&& other) noexcept
        : listener_(other.listener_),
          seen_(other.seen_),
          slot_(std::exchange(other.slot_, detail::Listener::no_slot)) {}
    CtrlC& operator=(CtrlC&&) = delete;
    ~CtrlC() { listener_->forget(slot_); }

    Poll<void> poll(Context& cx) {
        if (listener_->ready_or_wait(seen_, slot_, cx.waker())) return ready;
        return pending;
    }

private:
    detail::Listener* listener_;
    std::uint64_t seen_;  // the count of signals when the future was made
    std::size_t slot_ = detail::Listener::no_slot;
};

/// A future that completes at the next Ctrl-C. The first call installs the handler (from then
/// on Ctrl-C no longer ends the process); throws std::system_error if that fails.
inline CtrlC ctrl_c() { return CtrlC(); }

}  // namespace rt::signal
