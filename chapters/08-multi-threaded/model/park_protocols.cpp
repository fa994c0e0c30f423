// The park/unpark protocol (rt/multi_thread/parker.hpp) under the explorer: no unpark is lost,
// whether the worker sleeps on its condition variable or in the driver. And the same protocol
// without its step 3, which loses one: the chapter's text shows the explorer finding it.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>

#include "model/explorer.hpp"
#include "protocols.hpp"
#include "rt/multi_thread/parker.hpp"
#include "rt/sync/primitives.hpp"

namespace model_check {
namespace {

using rt::detail::Atomic;

// snippet-begin: unpark-two-workers
/// Two workers park until their flag is set; a third thread sets each flag and unparks its
/// worker. One of them sleeps in the driver, the other on its condition variable, or either
/// finds its token first. If an unpark were lost, a worker would sleep for good: the explorer
/// reports every thread waiting.
void unpark_two_workers() {
    const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    model::check(wake_fd >= 0, "eventfd failed");
    rt::detail::Driver driver(wake_fd);
    rt::detail::Parker parkers[2];
    Atomic<bool> work[2] = {false, false};
    {
        model::Thread first([&] {
            while (!work[0].load()) parkers[0].park(driver);
        });
        model::Thread second([&] {
            while (!work[1].load()) parkers[1].park(driver);
        });
        for (int i = 0; i < 2; ++i) {
            work[i].store(true);
            parkers[i].unpark(wake_fd);
        }
    }  // joins both
    ::close(wake_fd);
}
// snippet-end: unpark-two-workers

// snippet-begin: parker-without-step-3
/// The condition-variable half of the parker, with step 3 left out: unpark notifies without
/// taking the mutex first.
class ParkerWithoutStep3 {
public:
    void park() {
        std::uint8_t expected = notified;
        if (state_.compare_exchange_strong(expected, empty)) return;  // step 1: a token
        std::unique_lock lock(mutex_);
        expected = empty;
        if (!state_.compare_exchange_strong(expected, parked)) {
            state_.store(empty);
            return;
        }
        for (;;) {  // step 2
            condvar_.wait(lock);
            expected = notified;
            if (state_.compare_exchange_strong(expected, empty)) return;
        }
    }
    void unpark() {
        if (state_.exchange(notified) == parked) condvar_.notify_one();  // no lock: no step 3
    }

private:
    enum : std::uint8_t { empty, parked, notified };
    Atomic<std::uint8_t> state_{empty};
    rt::detail::Mutex mutex_;
    rt::detail::CondVar condvar_;
};

void unpark_without_step_3() {
    ParkerWithoutStep3 parker;
    Atomic<bool> work{false};
    model::Thread worker([&] {
        while (!work.load()) parker.park();
    });
    work.store(true);
    parker.unpark();
}
// snippet-end: parker-without-step-3

}  // namespace

std::vector<Protocol> park_protocols() {
    return {
        {"park", "an unpark wakes its worker, on the driver or on the condition variable", false,
         unpark_two_workers},
        {"park-without-step-3", "the parker with unpark's lock left out loses a wakeup", true,
         unpark_without_step_3},
    };
}

}  // namespace model_check
