// The park/unpark protocol (rt/multi_thread/parker.hpp) under the explorer: no unpark is lost,
// whether the worker sleeps on its condition variable or in the driver. And the same protocol
// without its step 3, which loses one: the chapter's text shows the explorer finding it. Then
// the workers' park protocol around it (rt/multi_thread/idle.hpp): new work and a worker going
// to sleep never miss each other; and without the last searcher's second look, they do.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <optional>

#include "model/explorer.hpp"
#include "protocols.hpp"
#include "rt/multi_thread/idle.hpp"
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

/// Workers that run tasks from a global queue and park when there are none, as
/// rt/multi_thread/worker.hpp's run loop does around Idle (next_task, steal_work, park), and a
/// producer that pushes tasks and notifies, as Shared::push_remote does. `look_again`: the
/// last searcher to park looks at the queue once more (idle.hpp, step 3).
class IdleWorkers {
public:
    static constexpr std::uint32_t workers = 2;
    static constexpr int tasks = 2;

    explicit IdleWorkers(bool look_again)
        : look_again_(look_again),
          wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
          driver_(wake_fd_) {
        model::check(wake_fd_ >= 0, "eventfd failed");
    }
    ~IdleWorkers() { ::close(wake_fd_); }

    void run() {
        model::Thread first([this] { work(0); });
        model::Thread second([this] { work(1); });
        for (int i = 0; i < tasks; ++i) {
            queued_.fetch_add(1);  // step 1: the task is visible, THEN the word is read
            notify_parked();
        }
        // A task that stays queued while every worker sleeps is a lost wakeup: the explorer
        // then finds every thread waiting, this one here.
        model::block_until([this] { return ran_ == tasks; }, "waits for the tasks to run");
        stop_.store(true);  // shutdown: every worker unparked
        for (rt::detail::Parker& parker : parkers_) parker.unpark(wake_fd_);
    }

private:
    void notify_parked() {
        if (const std::optional<std::uint32_t> worker = idle_.worker_to_notify()) {
            parkers_[*worker].unpark(wake_fd_);
        }
    }

    bool take() {
        std::uint32_t count = queued_.load();
        while (count > 0) {
            if (queued_.compare_exchange_weak(count, count - 1)) return true;
        }
        return false;
    }

    void work(std::uint32_t me) {
        bool searching = false;
        while (!stop_.load()) {
            bool found = take();                                                    // next_task
            if (!found && !searching) searching = idle_.transition_to_searching();  // steal_work
            if (!found && searching) found = take();
            if (found) {
                if (searching) {  // run_task: the last searcher to find work wakes another
                    searching = false;
                    if (idle_.transition_from_searching()) notify_parked();
                }
                ++ran_;
                continue;
            }
            // park: the announcement, then the last searcher's second look (step 3)
            if (idle_.transition_to_parked(me, searching) && look_again_ && queued_.load() > 0) {
                notify_parked();
            }
            searching = false;
            for (;;) {
                parkers_[me].park(driver_);
                if (stop_.load()) return;
                if (!idle_.is_parked(me)) {  // notified: counted as searching
                    searching = true;
                    break;
                }
            }
        }
    }

    const bool look_again_;
    const int wake_fd_;
    rt::detail::Driver driver_;
    rt::detail::Parker parkers_[workers];
    rt::detail::Idle idle_{workers};
    Atomic<std::uint32_t> queued_{0};  // the global queue's length
    Atomic<bool> stop_{false};
    int ran_ = 0;  // tasks run; one model thread runs at a time
};

}  // namespace

std::vector<Protocol> park_protocols() {
    return {
        {"park", "an unpark wakes its worker, on the driver or on the condition variable", false,
         unpark_two_workers},
        {"park-without-step-3", "the parker with unpark's lock left out loses a wakeup", true,
         unpark_without_step_3},
        {"idle", "tasks pushed while workers search and park all run", false,
         [] { IdleWorkers(true).run(); }},
        {"idle-without-second-look",
         "workers whose last searcher parks without looking again leave a task queued", true,
         [] { IdleWorkers(false).run(); }},
    };
}

}  // namespace model_check
