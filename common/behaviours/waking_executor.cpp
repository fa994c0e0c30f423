// Behaviours of every stage whose executor polls only woken tasks and whose sleep is woken
// by a timer (chapter 2 on): a task queued once however often woken, an executor that
// sleeps, wakes during a poll, shutdown without leaks, and sleeping tasks. Compiled into each
// such stage's tests; the stage's own headers come first on the include path. The tests of
// the timer thread itself (chapters 2 to 5) are in timer_thread_sleep.cpp.
//
// A test that needs one thing to happen before another that it cannot order itself (a poll
// before a sleep's deadline, the executor asleep before a wake from another thread) tries a
// short span and, when the run was too slow for it, a longer one (with_growing_spans): the
// verdict never depends on the machine's speed, only the test's duration does.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "testing/growing_spans.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

/// First poll: wakes its own waker `wakes` times from `threads` threads at once (joined
/// before returning) and answers pending. Second poll: ready.
class WakeStorm {
public:
    using Output = void;
    WakeStorm(int threads, int wakes_per_thread) : threads_(threads), wakes_(wakes_per_thread) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (polled_++ > 0) return rt::ready;
        std::vector<std::thread> threads;
        for (int t = 0; t < threads_; ++t) {
            threads.emplace_back([waker = cx.waker(), n = wakes_] {
                for (int i = 0; i < n; ++i) waker.wake_by_ref();
            });
        }
        for (auto& thread : threads) thread.join();
        return rt::pending;
    }

private:
    int threads_;
    int wakes_;
    int polled_ = 0;
};

/// Hands its waker to a thread that wakes it after `pause`; ready on the next poll.
class WokenByThread {
public:
    using Output = void;
    explicit WokenByThread(std::chrono::milliseconds pause) : pause_(pause) {}
    WokenByThread(WokenByThread&&) = default;
    ~WokenByThread() {
        if (thread_.joinable()) thread_.join();
    }

    rt::Poll<void> poll(rt::Context& cx) {
        if (thread_.joinable()) return rt::ready;  // the thread was started: this is the wake
        thread_ = std::thread([waker = cx.waker(), pause = pause_]() mutable {
            std::this_thread::sleep_for(pause);
            std::move(waker).wake();
        });
        return rt::pending;
    }

private:
    std::chrono::milliseconds pause_;
    std::thread thread_;  // joined by the destructor: the task's end waits for it
};

/// Keeps a clone of its own task's waker and never completes: a task that keeps itself
/// alive, as a task waiting on a channel it also holds the sender of would.
class HoldsOwnWaker {
public:
    using Output = void;
    explicit HoldsOwnWaker(std::shared_ptr<int> destroyed) : destroyed_(std::move(destroyed)) {}
    HoldsOwnWaker(HoldsOwnWaker&&) = default;
    ~HoldsOwnWaker() {
        if (destroyed_) ++*destroyed_;
    }
    rt::Poll<void> poll(rt::Context& cx) {
        own_waker_.emplace(cx.waker());
        return rt::pending;
    }

private:
    std::shared_ptr<int> destroyed_;
    std::optional<rt::Waker> own_waker_;
};

/// Awaits a sleep, then sets a flag.
class SleepThenFlag {
public:
    using Output = void;
    SleepThenFlag(std::chrono::nanoseconds d, std::shared_ptr<int> flag)
        : sleep_(rt::sleep(d)), flag_(std::move(flag)) {}
    rt::Poll<void> poll(rt::Context& cx) {
        if (sleep_.poll(cx).is_pending()) return rt::pending;
        ++*flag_;
        return rt::ready;
    }

private:
    rt::Sleep sleep_;
    std::shared_ptr<int> flag_;
};

}  // namespace

TEST_SUITE("wakers") {
    TEST_CASE("a task woken many times from many threads before it runs again is queued once") {
        rt::Executor executor;
        executor.spawn(WakeStorm(8, 1000));
        const rt::RunStats stats = executor.run();
        CHECK(stats.queued == 1);  // spawn queued it before run(); 8,000 wakes queued it once
        CHECK(stats.polls == 2);
    }

    TEST_CASE("the executor sleeps until a waker fires on another thread, then polls once more") {
        // The executor sleeps only if the wake comes after it found its queue empty: the
        // thread pauses before waking, and a run too slow for the pause tries a longer one.
        const bool slept = testing::with_growing_spans([](std::chrono::milliseconds pause) {
            rt::Executor executor;
            executor.spawn(WokenByThread(pause));
            const rt::RunStats stats = executor.run();
            CHECK(stats.polls == 2);
            CHECK(stats.completed == 1);
            return stats.parks >= 1;
        });
        CHECK_MESSAGE(slept,
                      "the executor never slept while its only task waited for a wake "
                      "from another thread, even for 10 s");
    }

    TEST_CASE("a wake that arrives while the task is polled queues it again") {
        // The self-waking future of the behaviour tests wakes *during* its poll; if the
        // executor cleared the scheduled flag after polling, that wake would be lost and
        // run() would sleep forever.
        struct WakeDuringPoll {
            using Output = void;
            int polls = 0;
            rt::Poll<void> poll(rt::Context& cx) {
                if (++polls == 3) return rt::ready;
                cx.waker().wake_by_ref();
                return rt::pending;
            }
        };
        rt::Executor executor;
        executor.spawn(WakeDuringPoll{});
        const rt::RunStats stats = executor.run();
        CHECK(stats.polls == 3);
    }

    TEST_CASE("run_until_idle returns without sleeping while a task still waits") {
        rt::Executor executor;
        auto flag = std::make_shared<int>(0);
        executor.spawn(SleepThenFlag(1h, flag));
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 1);
        CHECK(stats.parks == 0);
        CHECK(executor.pending_tasks() == 1);
        CHECK(*flag == 0);
    }
}

TEST_SUITE("shutdown") {
    TEST_CASE("an executor destroyed with waiting tasks destroys their futures") {
        auto destroyed = std::make_shared<int>(0);
        auto never = std::make_shared<int>(0);
        {
            rt::Executor executor;
            executor.spawn(HoldsOwnWaker(destroyed));  // keeps itself alive through a waker
            executor.spawn(SleepThenFlag(1h, never));  // its waker sits in the timer thread
            executor.run_until_idle();
            CHECK(executor.pending_tasks() == 2);
        }
        CHECK(*destroyed == 1);
        CHECK(*never == 0);
        // Memory: the sanitizer build (LeakSanitizer) fails this test if a task leaked.
    }

    TEST_CASE("a waker woken after its executor is gone polls nothing") {
        std::optional<rt::Waker> survivor;
        auto polls = std::make_shared<int>(0);
        struct KeepsWakerOutside {
            using Output = void;
            std::optional<rt::Waker>* out;
            std::shared_ptr<int> polls;
            rt::Poll<void> poll(rt::Context& cx) {
                ++*polls;
                out->emplace(cx.waker());
                return rt::pending;
            }
        };
        {
            rt::Executor executor;
            executor.spawn(KeepsWakerOutside{&survivor, polls});
            executor.run_until_idle();
        }
        REQUIRE(survivor.has_value());
        CHECK(polls.use_count() == 1);  // the future (and its copy of `polls`) is destroyed
        survivor->wake_by_ref();        // the queue is closed: the task is not queued
        std::move(*survivor).wake();    // last reference: the task is freed here
        CHECK(*polls == 1);
    }
}

TEST_SUITE("sleep") {
    TEST_CASE("a task waiting on a sleep is polled twice: to register, and after the wake") {
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds duration) {
            rt::Executor executor;
            auto flag = std::make_shared<int>(0);
            const auto start = rt::Clock::now();
            executor.spawn(SleepThenFlag(duration, flag));
            const rt::RunStats stats = executor.run();
            CHECK(rt::Clock::now() - start >= duration);
            CHECK(*flag == 1);
            if (stats.polls == 1) return false;  // the first poll came after the deadline
            CHECK(stats.polls == 2);
            return true;
        });
        CHECK_MESSAGE(in_time,
                      "the task's first poll never came before its sleep's deadline, "
                      "even 10 s away");
    }

    TEST_CASE("many sleeps wake in deadline order, each task polled twice") {
        struct Recorder {
            using Output = void;
            rt::Sleep sleep;
            int id;
            std::shared_ptr<std::vector<int>> order;
            rt::Poll<void> poll(rt::Context& cx) {
                if (sleep.poll(cx).is_pending()) return rt::pending;
                order->push_back(id);
                return rt::ready;
            }
        };
        // Deadlines from one start, so their order is certain. If every task answered pending
        // to its first poll (six polls in all), the wakes come in deadline order and the ready
        // queue keeps it; a task first polled after its deadline finishes at that poll, out of
        // turn, and a run that slow tries a longer step.
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds step) {
            rt::Executor executor;
            auto order = std::make_shared<std::vector<int>>();
            const auto start = rt::Clock::now();
            for (int id : {3, 1, 2}) {
                executor.spawn(Recorder{rt::sleep_until(start + id * step), id, order});
            }
            const rt::RunStats stats = executor.run();
            CHECK(order->size() == 3);
            if (stats.polls < 6) return false;  // a first poll came after its deadline
            CHECK(*order == std::vector<int>{1, 2, 3});
            CHECK(stats.polls == 6);
            return true;
        });
        CHECK_MESSAGE(in_time,
                      "the three tasks' first polls never all came before their sleeps' "
                      "deadlines, even 10 s apart");
    }
}
