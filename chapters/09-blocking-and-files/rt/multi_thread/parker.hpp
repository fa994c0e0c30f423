// A worker's Parker: how an idle worker sleeps, and how another thread wakes exactly it
// (Tokio's `park::Inner`). The worker sleeps in epoll_wait if it can take the drivers
// (rt/multi_thread/driver.hpp), otherwise on its condition variable; unpark() knows which from
// the state word, and writes the eventfd or notifies the condition variable.
//
// The state: EMPTY (running, no token), PARKED_CONDVAR, PARKED_DRIVER, NOTIFIED (a token: an
// unpark that no park has consumed yet). The protocol, and the race each step avoids:
//  1. park: consume a token if there is one (NOTIFIED -> EMPTY) and return: an unpark that
//     came before the park is not lost;
//  2. park on the condition variable: under the mutex, EMPTY -> PARKED_CONDVAR, then wait;
//     when woken, return only if NOTIFIED -> EMPTY succeeds, else wait again (a spurious
//     wakeup of the condition variable is not a notification);
//  3. unpark: exchange the state with NOTIFIED. If it was PARKED_CONDVAR, take the mutex
//     before notify_one: the parker changed the state under the mutex and waits under it, so
//     once the unparker holds the mutex the parker is inside wait(), and the notification
//     cannot fall between its state change and its wait;
//  4. park on the driver: EMPTY -> PARKED_DRIVER, then epoll_wait. An unpark writes the
//     eventfd, which ends the epoll_wait, or the next one if it comes before: the eventfd
//     stays readable until the driver reads it;
//  5. after the driver's park, exchange the state with EMPTY: whether NOTIFIED or not, the
//     worker is awake, and looks for work in any case.
// Steps 2 and 4 are compare-and-swaps from EMPTY: if they fail, the state is NOTIFIED (only the
// owner parks), and the token is consumed instead.
//
// Guarantees: after unpark(), the worker's current park returns, or its next one returns at
// once; spurious returns are possible (the worker then checks whether it was notified,
// rt/multi_thread/idle.hpp), a lost unpark is not.
#pragma once

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "rt/multi_thread/driver.hpp"
#include "rt/sync/primitives.hpp"

namespace rt::detail {

class Parker {
public:
    /// How the last park() slept, for the statistics.
    enum class Slept { not_at_all, on_driver, on_condvar };

    // snippet-begin: park
    /// The owner: sleep until unpark() (spurious returns allowed). Sleeps in epoll_wait, with
    /// the drivers, if no other worker holds them.
    Slept park(Driver& driver) {
        std::uint8_t expected = notified;  // step 1: a token
        if (state_.compare_exchange_strong(expected, empty, std::memory_order_seq_cst)) {
            return Slept::not_at_all;
        }
        if (driver.try_lock()) {
            const Slept slept = park_on_driver(driver);
            driver.unlock();
            return slept;
        }
        return park_on_condvar();
    }
    // snippet-end: park

    // snippet-begin: unpark
    /// Any thread: wake the owner, or make its next park return at once. `wake_fd` is the
    /// runtime's eventfd, which ends the driver's epoll_wait.
    void unpark(int wake_fd) {
        switch (state_.exchange(notified, std::memory_order_seq_cst)) {
            case parked_condvar: {
                // Step 3: the parker holds the mutex from its state change until it waits.
                { std::lock_guard lock(mutex_); }
                condvar_.notify_one();
                break;
            }
            case parked_driver: {
                const std::uint64_t one = 1;
                [[maybe_unused]] const ssize_t written = ::write(wake_fd, &one, sizeof one);
                break;
            }
            default:  // EMPTY: it runs, and will find the token; NOTIFIED: a token is there
                break;
        }
    }
    // snippet-end: unpark

private:
    enum : std::uint8_t { empty, parked_condvar, parked_driver, notified };

    Slept park_on_condvar() {
        std::unique_lock lock(mutex_);
        std::uint8_t expected = empty;
        if (!state_.compare_exchange_strong(expected, parked_condvar, std::memory_order_seq_cst)) {
            state_.store(empty, std::memory_order_seq_cst);  // it was NOTIFIED: the token
            return Slept::not_at_all;
        }
        for (;;) {  // step 2
            condvar_.wait(lock);
            expected = notified;
            if (state_.compare_exchange_strong(expected, empty, std::memory_order_seq_cst)) {
                return Slept::on_condvar;
            }
        }
    }

    Slept park_on_driver(Driver& driver) {
        std::uint8_t expected = empty;
        if (!state_.compare_exchange_strong(expected, parked_driver, std::memory_order_seq_cst)) {
            state_.store(empty, std::memory_order_seq_cst);  // it was NOTIFIED: the token
            return Slept::not_at_all;
        }
        driver.park();                                      // step 4
        state_.exchange(empty, std::memory_order_seq_cst);  // step 5
        return Slept::on_driver;
    }

    Atomic<std::uint8_t> state_{empty};
    Mutex mutex_;  // orders the condition variable's wait and notify with the state
    CondVar condvar_;
};

}  // namespace rt::detail
