// The drivers of the multi-threaded runtime: one I/O driver and one time driver for all the
// workers, as in Tokio. Whichever worker parks first while the drivers are free takes them and
// sleeps in epoll_wait (until an I/O event, the next timer, or a write of the eventfd); the other
// idle workers sleep on their condition variables (rt/multi_thread/parker.hpp). Busy workers
// collect events and fire timers without waiting, every so many tasks, when the drivers are
// free (Worker::maintenance). So one thread at a time calls epoll_wait and advances the
// timer wheel, and no thread is set aside for them.
//
// What makes sharing safe: a socket registers with the one epoll instance from any worker,
// and its readiness and wakers are under its own lock (rt/io_driver.hpp); a Sleep registers
// with the one time driver, under its lock, from any worker, and interrupts a parked driver if
// it is due earlier (rt/time/driver.hpp); a socket closed on any worker is freed at the next
// turn of the driver, by whichever worker holds it then, after epoll_wait can no longer report
// it (rt/io_driver.hpp's released list: turns are never concurrent, for one worker at a time
// holds the drivers).
//
// Guarantees: at most one thread holds the drivers; a wake written to the eventfd (by unpark, or
// by a timer due earlier) ends the holder's current or next epoll_wait.
#pragma once

#include <atomic>
#include <cstddef>

#include "rt/io_driver.hpp"
#include "rt/time/driver.hpp"

namespace rt::detail {

class Driver {
public:
    /// `wake_fd`: the runtime's eventfd (not owned), which ends a parked holder's epoll_wait.
    explicit Driver(int wake_fd) : io_(wake_fd), time_(wake_fd) {}

    /// Take the drivers, if no other worker holds them. acquire: what the last holder did with
    /// them happens-before what this one does.
    bool try_lock() noexcept { return !held_.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { held_.store(false, std::memory_order_release); }

    /// Holder only: sleep in epoll_wait until an I/O event, the next timer's deadline or a
    /// write of the eventfd; then wake the tasks of the events and of the timers that are due.
    /// Wakes happen on this thread, a worker's: into its own queue. Returns the events.
    std::size_t park() {
        const std::size_t events = io_.turn(time_.park_timeout_ms(Clock::now()));
        time_.unparked();
        time_.process(Clock::now());
        return events;
    }

    /// Holder only: the same without waiting, and without system calls when nothing is
    /// registered.
    std::size_t poll_now() {
        std::size_t events = 0;
        if (io_.watching_sockets()) events = io_.turn(0);
        if (time_.registered() > 0) time_.process(Clock::now());
        return events;
    }

    IoDriver& io() noexcept { return io_; }
    TimeDriver& time() noexcept { return time_; }

private:
    std::atomic<bool> held_{false};
    IoDriver io_;
    TimeDriver time_;
};

}  // namespace rt::detail
