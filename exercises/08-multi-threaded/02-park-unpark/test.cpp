// Tests of exercise 08-02, the specification of ex::BasicParker, ex::Idle and ex::Pool: an
// unpark is a token that a later park consumes, many unparks make one token, a park without a
// token sleeps until the next unpark, and neither a spurious wakeup nor an unpark that falls
// between the parker's state change and its wait breaks that; a push wakes one parked worker,
// and none while a worker searches; an item pushed while a worker goes to sleep is never left
// in the queue with every worker asleep. The races are provoked on purpose, at the exact
// point where they would do harm, through a mutex and a condition variable that record what the
// parker does with them; no verdict depends on timing, and every wait is bounded: a thread that
// sleeps through its wakeup is found asleep, named, and released, never waited for.
#include <doctest/doctest.h>

#include <idle.hpp>
#include <parker.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "testing/eventually.hpp"

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int scale = 10;  // sanitized builds run the stress test on less work
#else
constexpr int scale = 1;
#endif

/// What every TestCondVar of the running test shares: what the sleeping threads are doing, and
/// the test's levers on them. One test at a time; each test starts with reset().
struct Sleeps {
    std::atomic<int> waits{0};          // waits that really began (injected spurious ones aside)
    std::atomic<int> waiting{0};        // threads inside a wait now
    std::atomic<int> unnotified{0};     // of those, the ones no notification reached yet
    std::atomic<int> lock_attempts{0};  // TestMutex::lock calls, counted before they block
    std::atomic<int> notifications{0};  // notify calls, on every TestCondVar
    std::atomic<int> spurious_left{0};  // the next waits return at once, with no notification
    std::atomic<unsigned> spurious_one_in{0};  // or: 0 none, else one wait in that many
    std::atomic<unsigned> wait_number{0};      // for spurious_one_in
    std::atomic<bool> rescuing{false};         // every wait throws Rescued
    std::function<void()> before_wait;  // if set: called at the start of every wait, under the
                                        // parker's mutex (set before the threads start)
    std::function<void()> before_lock;  // if set: called by every TestMutex::lock, first
    void reset() {
        waits = 0;
        waiting = 0;
        unnotified = 0;
        lock_attempts = 0;
        notifications = 0;
        spurious_left = 0;
        spurious_one_in = 0;
        wait_number = 0;
        rescuing = false;
        before_wait = nullptr;
        before_lock = nullptr;
    }
};
Sleeps sleeps;

/// Thrown out of a wait that the test gave up on, so that a thread stuck in park() ends.
struct Rescued {};

/// A std::mutex that counts the attempts to lock it, before they block.
class TestMutex {
public:
    void lock() {
        if (sleeps.before_lock) sleeps.before_lock();
        sleeps.lock_attempts.fetch_add(1);
        mutex_.lock();
    }
    bool try_lock() { return mutex_.try_lock(); }
    void unlock() { mutex_.unlock(); }

private:
    std::mutex mutex_;
};

/// A condition variable that behaves as std::condition_variable does (a notification that
/// comes before wait() began wakes nobody; wait() may return spuriously), and records who waits
/// and whether a notification reached it. The test can make waits return spuriously, call a
/// hook at the start of a wait, and rescue a thread that waits for ever.
class TestCondVar {
public:
    TestCondVar() = default;
    TestCondVar(const TestCondVar&) = delete;
    TestCondVar& operator=(const TestCondVar&) = delete;

    template <class Lock>
    void wait(Lock& lock) {
        if (sleeps.before_wait) sleeps.before_wait();
        if (spurious_now()) {
            lock.unlock();
            lock.lock();
            return;
        }
        std::uint64_t seen = 0;
        {
            std::lock_guard guard(guard_);
            seen = notifications_;
            waiter_unnotified_ = true;
            sleeps.waits.fetch_add(1);
            sleeps.waiting.fetch_add(1);
            sleeps.unnotified.fetch_add(1);
        }
        for (;;) {
            {
                std::lock_guard guard(guard_);
                const bool notified = notifications_ != seen;
                if (notified || sleeps.rescuing.load()) {
                    if (waiter_unnotified_) sleeps.unnotified.fetch_sub(1);
                    waiter_unnotified_ = false;
                    sleeps.waiting.fetch_sub(1);
                    if (!notified) throw Rescued{};
                    return;
                }
            }
            // A notification also ends this wait at once; the time bound only lets it see
            // `rescuing`, which nothing notifies.
            condvar_.wait_for(lock, std::chrono::milliseconds(2));
        }
    }

    void notify_one() {
        sleeps.notifications.fetch_add(1);
        {
            std::lock_guard guard(guard_);
            ++notifications_;
            if (waiter_unnotified_) sleeps.unnotified.fetch_sub(1);
            waiter_unnotified_ = false;
        }
        condvar_.notify_all();
    }
    void notify_all() { notify_one(); }

private:
    static bool spurious_now() {
        int left = sleeps.spurious_left.load();
        while (left > 0) {
            if (sleeps.spurious_left.compare_exchange_weak(left, left - 1)) return true;
        }
        const unsigned one_in = sleeps.spurious_one_in.load();
        return one_in != 0 && sleeps.wait_number.fetch_add(1) % one_in == 0;
    }

    std::mutex guard_;                 // guards notifications_ and waiter_unnotified_
    std::uint64_t notifications_ = 0;  // notify calls so far
    bool waiter_unnotified_ = false;   // a thread waits, and no notification reached it yet
    std::condition_variable_any condvar_;
};

using TestParker = ex::BasicParker<TestMutex, TestCondVar>;

/// Every test starts with fresh Sleeps, and ends with no thread left waiting.
struct Fresh {
    Fresh() { sleeps.reset(); }
    ~Fresh() { sleeps.reset(); }
};

/// A thread that calls park() `parks` times, counting the returns. A park still asleep when
/// the test ends is rescued (it throws out of the wait), so the thread always ends.
class Parking {
public:
    Parking(TestParker& parker, int parks)
        : thread_([this, &parker, parks] {
              try {
                  for (int i = 0; i < parks; ++i) {
                      parker.park();
                      returned_.fetch_add(1);
                  }
              } catch (const Rescued&) {
                  rescued_ = true;
              }
          }) {}
    Parking(const Parking&) = delete;
    Parking& operator=(const Parking&) = delete;
    ~Parking() { end(); }

    int returned() const { return returned_.load(); }

    /// True once `count` parks have returned; false if the park after them was found asleep
    /// first (or if neither happened within the test's patience).
    bool returns(int count) {
        REQUIRE(testing::eventually([&] {
            return returned() >= count || (returned() == count - 1 && sleeps.waiting == 1);
        }));
        return returned() >= count;
    }

    /// True once the next park (after `count` returned) sleeps, not having returned.
    bool sleeps_after(int count) {
        REQUIRE(testing::eventually([&] { return returned() > count || sleeps.waiting == 1; }));
        return returned() == count;
    }

    /// Rescue a park that still sleeps, and join.
    void end() {
        if (!thread_.joinable()) return;
        sleeps.rescuing = true;
        thread_.join();
    }

private:
    std::atomic<int> returned_{0};
    std::atomic<bool> rescued_{false};
    std::thread thread_;
};

}  // namespace

TEST_SUITE("parker: the token") {
    TEST_CASE("an unpark before the park is a token: the park returns without sleeping") {
        Fresh fresh;
        TestParker parker;
        parker.unpark();
        Parking parking(parker, 1);
        CHECK_MESSAGE(parking.returns(1), "park() slept although unpark() was called before it");
        CHECK(sleeps.waits.load() == 0);
    }

    TEST_CASE("a park without a token sleeps until an unpark wakes it") {
        Fresh fresh;
        TestParker parker;
        Parking parking(parker, 1);
        REQUIRE_MESSAGE(parking.sleeps_after(0), "park() returned with no unpark() at all");
        parker.unpark();
        CHECK_MESSAGE(testing::eventually([&] { return parking.returned() == 1; }),
                      "unpark() did not wake the sleeping park()");
    }

    TEST_CASE("two unparks before a park make one token") {
        Fresh fresh;
        TestParker parker;
        parker.unpark();
        parker.unpark();
        Parking parking(parker, 2);
        REQUIRE_MESSAGE(parking.returns(1), "park() slept although unpark() was called before it");
        CHECK_MESSAGE(parking.sleeps_after(1), "two unparks let two parks through: one token");
        parker.unpark();
        CHECK(testing::eventually([&] { return parking.returned() == 2; }));
    }

    TEST_CASE("a park after the token was used sleeps until the next unpark") {
        Fresh fresh;
        TestParker parker;
        Parking parking(parker, 3);
        for (int round = 0; round < 3; ++round) {
            CAPTURE(round);
            REQUIRE(parking.sleeps_after(round));
            parker.unpark();
            REQUIRE_MESSAGE(testing::eventually([&] { return parking.returned() == round + 1; }),
                            "unpark() did not wake the sleeping park()");
        }
    }
}

TEST_SUITE("parker: the races") {
    TEST_CASE("an unpark between the parker's state change and its wait is not lost") {
        // The hook runs where the owner has announced its sleep and not yet waited: an unpark
        // from another thread then. It must either finish (it did not take the mutex) or try to
        // take the mutex, which the owner holds; then the owner waits.
        Fresh fresh;
        TestParker parker;
        std::atomic<bool> unpark_returned{false};
        std::thread unparker;
        bool hooked = false;
        sleeps.before_wait = [&] {
            if (hooked) return;
            hooked = true;
            const int attempts = sleeps.lock_attempts.load();
            unparker = std::thread([&] {
                parker.unpark();
                unpark_returned = true;
            });
            const bool moved = testing::eventually(
                [&] { return unpark_returned || sleeps.lock_attempts > attempts; });
            if (!moved) FAIL_CHECK("unpark() neither returned nor tried to take the mutex");
        };
        Parking parking(parker, 1);
        const bool returned = testing::eventually(
            [&] { return parking.returned() == 1 || (unpark_returned && sleeps.unnotified == 1); });
        CHECK_MESSAGE(parking.returned() == 1,
                      "the owner sleeps, and the unpark has returned without a notification that "
                      "reached it: lost wakeup (unpark() must take the mutex before notify_one)");
        CHECK(returned);
        parking.end();
        if (unparker.joinable()) unparker.join();
    }

    TEST_CASE("an unpark between the parker's look for a token and its state change is a token") {
        // The hook runs when the owner takes its mutex, after a first look found no token and
        // before it announces its sleep: an unpark from another thread then, to the end.
        Fresh fresh;
        TestParker parker;
        std::atomic<bool> hooked{false};
        sleeps.before_lock = [&] {
            if (hooked.exchange(true)) return;
            std::thread([&] { parker.unpark(); }).join();
        };
        Parking parking(parker, 1);
        CHECK_MESSAGE(parking.returns(1),
                      "park() slept although unpark() was called before it announced its sleep: "
                      "the token was overwritten");
        CHECK(sleeps.waits.load() == 0);
        CHECK(hooked.load());
    }

    TEST_CASE("a spurious wakeup does not end a park") {
        Fresh fresh;
        TestParker parker;
        sleeps.spurious_left = 3;  // the first three waits return at once, with no notification
        Parking parking(parker, 1);
        CHECK_MESSAGE(parking.sleeps_after(0),
                      "park() returned after a spurious wakeup, with no unpark()");
        parker.unpark();
        CHECK(testing::eventually([&] { return parking.returned() == 1; }));
        parking.end();
        CHECK(parker.spurious_wakeups() == 3);
    }
}

TEST_SUITE("idle: who is woken") {
    TEST_CASE("a notification wakes nobody while every worker is unparked") {
        ex::Idle idle(3);
        CHECK_FALSE(idle.worker_to_notify().has_value());
        CHECK(idle.num_unparked() == 3);
    }

    TEST_CASE("a notification takes one parked worker off the list and counts it as searching") {
        ex::Idle idle(3);
        CHECK_FALSE(idle.transition_to_parked(0, false));
        CHECK_FALSE(idle.transition_to_parked(1, false));
        CHECK(idle.num_unparked() == 1);
        const auto worker = idle.worker_to_notify();
        REQUIRE(worker.has_value());
        CHECK((*worker == 0 || *worker == 1));
        CHECK_FALSE(idle.is_parked(*worker));
        CHECK(idle.is_parked(1 - *worker));
        CHECK(idle.num_unparked() == 2);
        CHECK(idle.num_searching() == 1);
    }

    TEST_CASE("no notification while a worker searches, however many are parked") {
        ex::Idle idle(4);
        for (std::uint32_t w = 0; w < 4; ++w) idle.transition_to_parked(w, false);
        REQUIRE(idle.worker_to_notify().has_value());  // it searches now
        CHECK_MESSAGE(!idle.worker_to_notify().has_value(),
                      "a second worker was woken while the first one still searched");
        CHECK(idle.num_unparked() == 1);
        CHECK(idle.transition_from_searching());     // it found the item: the last searcher
        CHECK(idle.worker_to_notify().has_value());  // now a notification wakes the next
    }

    TEST_CASE("the last searcher to park is told to look again, and only it") {
        ex::Idle idle(4);
        REQUIRE(idle.transition_to_searching());
        REQUIRE(idle.transition_to_searching());
        CHECK_FALSE(idle.transition_to_searching());  // half of the workers search already
        CHECK_FALSE(idle.transition_to_parked(0, true));
        CHECK_FALSE(idle.transition_to_parked(2, false));
        CHECK(idle.transition_to_parked(1, true));
        CHECK(idle.num_searching() == 0);
        CHECK(idle.num_unparked() == 1);
    }
}

namespace {

/// The workers of a Pool of ints, each on its thread, counting what they handle. A worker
/// still asleep when the test ends is rescued, so the threads always end.
class Workers {
public:
    explicit Workers(ex::Pool<int, TestParker>& pool) : pool_(pool) {}
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    ~Workers() { finish(); }

    void start(std::uint32_t index, std::function<void(int)> handle = {}) {
        threads_.emplace_back([this, index, handle = std::move(handle)] {
            try {
                pool_.run_worker(index, [&](int item) {
                    if (handle) handle(item);
                    handled.fetch_add(1);
                });
            } catch (const Rescued&) {
                rescued.fetch_add(1);
            }
            ended.fetch_add(1);
        });
    }

    /// Shut the pool down and join every worker; a worker that shutdown() does not end is a
    /// failure, and is rescued. Once shutdown() has returned, a worker that waits with no
    /// notification on its way will wait for ever: nobody else unparks it.
    void finish() {
        if (threads_.empty()) return;
        pool_.shutdown();
        const int count = static_cast<int>(threads_.size());
        const bool ended_or_stuck = testing::eventually(
            [&] { return ended == count || ended + sleeps.unnotified == count; });
        if (!ended_or_stuck || ended != count) {
            FAIL_CHECK("shutdown() did not end every worker: an unpark was lost");
            sleeps.rescuing = true;
        }
        for (std::thread& thread : threads_) thread.join();
        threads_.clear();
    }

    std::atomic<int> handled{0};
    std::atomic<int> rescued{0};
    std::atomic<int> ended{0};

private:
    ex::Pool<int, TestParker>& pool_;
    std::vector<std::thread> threads_;
};

/// Every worker waits, and no notification is on its way to any of them: nothing will ever
/// wake them, since no other thread runs (the test calls it once its producers are done).
bool all_asleep_for_good(int workers) { return sleeps.unnotified.load() == workers; }

/// A worker finds the queue empty `looks` times before it sleeps, with no hook: how many
/// windows there are to push an item into.
int empty_looks_before_sleeping(std::uint32_t workers) {
    Fresh fresh;
    std::atomic<int> looks{0};
    ex::Pool<int, TestParker> pool(workers, [&](std::uint32_t worker) {
        if (worker == workers - 1) looks.fetch_add(1);
    });
    Workers threads(pool);
    for (std::uint32_t w = 0; w < workers; ++w) {
        threads.start(w);
        REQUIRE_MESSAGE(testing::eventually([&] { return sleeps.waiting == int(w) + 1; }),
                        "a worker with nothing to do never went to sleep");
    }
    threads.finish();
    return looks.load();
}

}  // namespace

TEST_SUITE("pool: no lost wakeup") {
    TEST_CASE("an item pushed to sleeping workers is handled") {
        Fresh fresh;
        ex::Pool<int, TestParker> pool(2);
        Workers workers(pool);
        workers.start(0);
        workers.start(1);
        REQUIRE(testing::eventually([&] { return sleeps.waiting == 2; }));
        pool.push(7);
        CHECK(testing::eventually([&] { return workers.handled == 1 || all_asleep_for_good(2); }));
        CHECK_MESSAGE(workers.handled.load() == 1,
                      "every worker slept with work pending: lost wakeup");
    }

    TEST_CASE("an item pushed between a worker's last look and its sleep is not lost") {
        // Against every look at the empty queue that the worker makes on its way to sleep (its
        // first, its search, its look after announcing the sleep): an item pushed, and the push
        // done, right after it. With two workers, the other one sleeps already.
        for (std::uint32_t workers : {1u, 2u}) {
            const int looks = empty_looks_before_sleeping(workers);
            REQUIRE(looks >= 1);
            for (int window = 1; window <= looks; ++window) {
                CAPTURE(workers);
                CAPTURE(window);
                Fresh fresh;
                const std::uint32_t last = workers - 1;
                std::atomic<bool> pushed{false};
                int seen = 0;  // the last worker's thread only
                ex::Pool<int, TestParker>* the_pool = nullptr;
                ex::Pool<int, TestParker> pool(workers, [&](std::uint32_t worker) {
                    if (worker != last || ++seen != window) return;
                    std::thread([&] { the_pool->push(1); }).join();  // a producer, in the window
                    pushed = true;
                });
                the_pool = &pool;
                Workers threads(pool);
                for (std::uint32_t w = 0; w < last; ++w) {
                    threads.start(w);
                    REQUIRE(testing::eventually([&] { return sleeps.waiting == int(w) + 1; }));
                }
                threads.start(last);
                const bool settled = testing::eventually([&] {
                    return threads.handled == 1 ||
                           (pushed && all_asleep_for_good(static_cast<int>(workers)));
                });
                const bool ok = threads.handled == 1;
                CHECK_MESSAGE(ok,
                              "worker slept with work pending: lost wakeup (the item was pushed "
                              "right after the worker's look number "
                                  << window << " at the empty queue)");
                CHECK(settled);
                threads.finish();
                if (!ok) return;  // one window is enough to tell
            }
        }
    }

    TEST_CASE("a push while a worker searches wakes no parked worker") {
        // Worker 1's second look is a search (its first found nothing, and nobody searched).
        // While the hook runs, worker 0 sleeps and worker 1 is in the hook: a notification then
        // comes from the push.
        Fresh fresh;
        std::atomic<int> woken_by_push{-1};
        int seen = 0;
        ex::Pool<int, TestParker>* the_pool = nullptr;
        ex::Pool<int, TestParker> pool(2, [&](std::uint32_t worker) {
            if (worker != 1 || ++seen != 2) return;
            const int before = sleeps.notifications.load();
            std::thread([&] { the_pool->push(1); }).join();
            woken_by_push = sleeps.notifications.load() - before;
        });
        the_pool = &pool;
        Workers workers(pool);
        workers.start(0);
        REQUIRE(testing::eventually([&] { return sleeps.waiting == 1; }));
        workers.start(1);
        CHECK(testing::eventually([&] { return workers.handled == 1 || all_asleep_for_good(2); }));
        CHECK(workers.handled.load() == 1);
        CHECK_MESSAGE(woken_by_push.load() == 0,
                      "the push woke a parked worker while another one searched");
    }

    TEST_CASE("shutdown ends every worker, asleep or not") {
        Fresh fresh;
        ex::Pool<int, TestParker> pool(3);
        Workers workers(pool);
        for (std::uint32_t w = 0; w < 3; ++w) workers.start(w);
        REQUIRE(testing::eventually([&] { return sleeps.waiting == 3; }));
        workers.finish();
        CHECK(workers.ended.load() == 3);
        CHECK(workers.rescued.load() == 0);
    }
}

TEST_SUITE("pool: stress") {
    TEST_CASE("producers and parking workers: every item handled once, no worker asleep on one") {
        // Rounds: the producers push a burst each, at once; then, in most rounds, the test waits
        // until every item so far is handled, or until every worker sleeps with items left (a
        // lost wakeup). The seed varies the bursts, the rounds waited for, how the workers and
        // producers yield, and how often a wait returns spuriously.
        std::uint64_t seed = std::random_device{}();
        if (const char* text = std::getenv("RT_STRESS_SEED"))
            seed = std::strtoull(text, nullptr, 10);
        INFO("seed " << seed << " (run again with RT_STRESS_SEED=" << seed << ")");
        Fresh fresh;
        constexpr int producers = 3;
        constexpr std::uint32_t worker_count = 4;
        const int rounds = 3000 / scale;
        std::mt19937_64 rng(seed);
        sleeps.spurious_one_in = 2 + static_cast<unsigned>(rng() % 15);

        // Each round's burst per producer, drawn up front so the producers agree on the total.
        std::vector<int> bursts(static_cast<std::size_t>(rounds));
        for (int& burst : bursts) burst = 1 + static_cast<int>(rng() % 64);
        std::vector<bool> wait_after(static_cast<std::size_t>(rounds));
        for (std::size_t r = 0; r < wait_after.size(); ++r) wait_after[r] = rng() % 4 != 0;
        int total = 0;
        for (int burst : bursts) total += producers * burst;
        CAPTURE(total);

        std::vector<std::atomic<int>> handled_count(static_cast<std::size_t>(total));
        ex::Pool<int, TestParker> pool(worker_count);
        Workers workers(pool);
        const unsigned yield_one_in = 2 + static_cast<unsigned>(rng() % 30);
        for (std::uint32_t w = 0; w < worker_count; ++w) {
            workers.start(w, [&, w](int item) {
                handled_count[static_cast<std::size_t>(item)].fetch_add(1);
                if ((static_cast<unsigned>(item) + w) % yield_one_in == 0)
                    std::this_thread::yield();
            });
        }

        std::barrier sync(producers + 1);
        std::atomic<bool> stop{false};
        std::vector<std::thread> threads;
        for (int p = 0; p < producers; ++p) {
            threads.emplace_back([&, p] {
                int next = 0;  // the first item of this round
                for (int round = 0; round < rounds; ++round) {
                    sync.arrive_and_wait();  // go
                    if (stop) break;
                    const int burst = bursts[static_cast<std::size_t>(round)];
                    for (int i = 0; i < burst; ++i) {
                        pool.push(next + p * burst + i);
                        if ((i + p + round) % 7 == 0) std::this_thread::yield();
                    }
                    next += producers * burst;
                    sync.arrive_and_wait();  // done
                }
            });
        }

        int pushed = 0;
        int lost_in_round = -1;
        for (int round = 0; round < rounds; ++round) {
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            pushed += producers * bursts[static_cast<std::size_t>(round)];
            if (!wait_after[static_cast<std::size_t>(round)] && round + 1 < rounds) continue;
            const bool settled = testing::eventually([&] {
                return workers.handled == pushed || all_asleep_for_good(int(worker_count));
            });
            if (workers.handled != pushed || !settled) {
                lost_in_round = round;
                stop = true;
                if (round + 1 < rounds) sync.arrive_and_wait();  // the producers see `stop`
                break;
            }
        }
        for (std::thread& thread : threads) thread.join();
        CHECK_MESSAGE(lost_in_round == -1,
                      "worker slept with work pending: lost wakeup (round "
                          << lost_in_round << ", " << pushed - workers.handled
                          << " item(s) left in the queue with every worker asleep)");
        workers.finish();
        CHECK(workers.rescued.load() == 0);
        if (lost_in_round == -1) {
            int wrong = 0;
            for (const std::atomic<int>& count : handled_count) wrong += count != 1 ? 1 : 0;
            CHECK_MESSAGE(wrong == 0, wrong << " item(s) were not handled exactly once");
        }
    }
}
