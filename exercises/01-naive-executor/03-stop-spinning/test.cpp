// Tests of exercise 01-03, the specification of SleepingExecutor::run: one poll of every task
// per round in FIFO order, finished tasks destroyed at once, and a sleep until the earliest
// deadline only after a round in which every task waits for one. The clock is fake (its sleep
// moves its time on at once and is recorded), so the tests are exact and never wait; every run
// is given a round limit, so an unfinished run() fails the tests instead of hanging them.
#include <doctest/doctest.h>

#include <sleeping_executor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "rt/yield_now.hpp"
#include "testing/printing.hpp"  // failure messages show vectors element by element

namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

/// Rounds far beyond what any test needs; reaching them means "never finished".
constexpr std::uint64_t max_rounds = 10'000;

/// Where the fake clock starts.
constexpr TimePoint t0 = TimePoint(1h);

/// A clock whose time moves only when told: sleep_until moves it to the time asked for, at
/// once, and records the call. A sleep until a time that is not in the future fails the test.
struct FakeClock {
    using time_point = TimePoint;

    time_point now_ = t0;
    std::vector<time_point> sleeps;  // every sleep_until, in order

    time_point now() const { return now_; }
    void sleep_until(time_point t) {
        CHECK_MESSAGE(t > now_, "the executor slept until a time that had already passed");
        sleeps.push_back(t);
        now_ = std::max(now_, t);
    }
    /// Moves the time on by `d`, as a slow poll would, for tests that need time to pass mid-round.
    void advance(std::chrono::nanoseconds d) { now_ += d; }
};

static_assert(rt::SleepClock<FakeClock>);

using Executor = rt::SleepingExecutor<FakeClock>;

/// Milliseconds after t0, so that failure messages stay readable.
std::int64_t ms_since_start(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - t0).count();
}

std::vector<std::int64_t> ms_since_start(const std::vector<TimePoint>& times) {
    std::vector<std::int64_t> ms;
    for (TimePoint t : times) ms.push_back(ms_since_start(t));
    return ms;
}

/// What a test can see of its tasks: which finished, when, and which still exist.
struct Log {
    std::vector<std::string> finished;   // task names, in the order they finished
    std::vector<TimePoint> finished_at;  // the clock's time when each finished
    std::vector<std::string> polls;      // task names, one entry per poll
    int alive = 0;                       // Sleepers that exist now (moved-from ones too)
};

/// Counts the Sleepers alive (moved-from shells included), so a test sees when the executor
/// destroys one.
class Alive {
public:
    explicit Alive(std::shared_ptr<Log> log) : log_(std::move(log)) { ++log_->alive; }
    Alive(const Alive& other) : log_(other.log_) { ++log_->alive; }
    Alive& operator=(const Alive&) = delete;
    ~Alive() { --log_->alive; }

private:
    std::shared_ptr<Log> log_;
};

/// A task that waits for one of the executor's sleeps, then logs that it finished and when.
/// A poll after it answered ready fails the test.
class Sleeper {
public:
    using Output = void;

    Sleeper(std::string name, Executor::Sleep sleep, Executor& executor, std::shared_ptr<Log> log)
        : name_(std::move(name)), sleep_(sleep), executor_(&executor), alive_(log), log_(log) {}

    rt::Poll<void> poll(rt::Context& cx) {
        log_->polls.push_back(name_);
        if (done_) {
            FAIL_CHECK("task " << name_ << " was polled after it answered ready");
            return rt::pending;
        }
        if (sleep_.poll(cx).is_pending()) return rt::pending;
        done_ = true;
        log_->finished.push_back(name_);
        log_->finished_at.push_back(executor_->clock().now());
        return rt::ready;
    }

private:
    std::string name_;
    Executor::Sleep sleep_;
    Executor* executor_;
    Alive alive_;
    std::shared_ptr<Log> log_;
    bool done_ = false;
};

/// A task that awaits chapter 1's yield_now `yields` times, then finishes. Each yield answers
/// pending without reporting a deadline: the task could progress at once.
class Yielder {
public:
    using Output = void;

    Yielder(std::string name, int yields, Executor& executor, std::shared_ptr<Log> log)
        : name_(std::move(name)), yields_(yields), executor_(&executor), log_(std::move(log)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        log_->polls.push_back(name_);
        if (done_) {
            FAIL_CHECK("task " << name_ << " was polled after it answered ready");
            return rt::pending;
        }
        for (;;) {
            if (yield_) {
                if (yield_->poll(cx).is_pending()) return rt::pending;
                yield_.reset();
                ++yielded_;
            }
            if (yielded_ == yields_) break;
            yield_.emplace(rt::yield_now());
        }
        done_ = true;
        log_->finished.push_back(name_);
        log_->finished_at.push_back(executor_->clock().now());
        return rt::ready;
    }

private:
    std::string name_;
    int yields_;
    int yielded_ = 0;
    std::optional<rt::YieldNow> yield_;
    Executor* executor_;
    std::shared_ptr<Log> log_;
    bool done_ = false;
};

using Names = std::vector<std::string>;
using Millis = std::vector<std::int64_t>;

}  // namespace

TEST_SUITE("sleeping executor") {
    TEST_CASE("two sleeps of 10 and 20 ms take three rounds and two sleeps, to their deadlines") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Sleeper("a", executor.sleep(10ms), executor, log));
        executor.spawn(Sleeper("b", executor.sleep(20ms), executor, log));
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->finished == Names{"a", "b"});
        CHECK(ms_since_start(log->finished_at) == Millis{10, 20});
        CHECK(ms_since_start(executor.clock().sleeps) == Millis{10, 20});
        // Round 1: both pending, sleep to 10 ms. Round 2: a ready, b pending (every task is
        // polled in every round), sleep to 20 ms. Round 3: b ready.
        CHECK(stats.polls == 5);
        CHECK(stats.rounds == 3);
        CHECK(stats.completed == 2);
        CHECK(stats.sleeps == 2);
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("each round polls every task once, in the order they were spawned") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Yielder("a", 2, executor, log));  // 3 polls
        executor.spawn(Yielder("b", 0, executor, log));  // 1 poll
        executor.spawn(Yielder("c", 1, executor, log));  // 2 polls
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->polls == Names{"a", "b", "c", "a", "c", "a"});
        CHECK(stats.rounds == 3);
        CHECK(stats.completed == 3);
    }

    TEST_CASE("a task pending without a deadline keeps the executor from sleeping") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Yielder("yielder", 3, executor, log));
        executor.spawn(Sleeper("sleeper", executor.sleep(10ms), executor, log));
        const Executor::Stats stats = executor.run(max_rounds);
        REQUIRE(log->finished == Names{"yielder", "sleeper"});
        // Three rounds with the yielder pending: no sleep. Then the sleeper alone: one sleep.
        CHECK_MESSAGE(ms_since_start(log->finished_at[0]) == 0,
                      "the executor slept while a task that could progress was pending");
        CHECK(ms_since_start(log->finished_at[1]) == 10);
        CHECK(ms_since_start(executor.clock().sleeps) == Millis{10});
        CHECK(stats.polls == 4 + 5);  // yielder: 3 pending, 1 ready; sleeper: 4 pending, 1 ready
        CHECK(stats.sleeps == 1);
    }

    TEST_CASE("tasks finish in deadline order, ties in spawn order, one sleep per deadline") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Sleeper("30", executor.sleep(30ms), executor, log));
        executor.spawn(Sleeper("10", executor.sleep(10ms), executor, log));
        executor.spawn(Sleeper("20", executor.sleep(20ms), executor, log));
        executor.spawn(Sleeper("10 again", executor.sleep(10ms), executor, log));
        executor.spawn(Sleeper("0", executor.sleep(0ms), executor, log));
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->finished == Names{"0", "10", "10 again", "20", "30"});
        CHECK(ms_since_start(log->finished_at) == Millis{0, 10, 10, 20, 30});
        CHECK(ms_since_start(executor.clock().sleeps) == Millis{10, 20, 30});
        CHECK(stats.sleeps == 3);
    }

    TEST_CASE("a finished task is destroyed at once, before the next task is polled") {
        auto log = std::make_shared<Log>();
        auto alive_when_b_finished = std::make_shared<std::optional<int>>();
        // b has a's deadline, so it finishes in the round a finishes in, right after a, and
        // records how many Sleepers exist at that moment.
        struct Witness {
            using Output = void;
            Executor::Sleep sleep;
            std::shared_ptr<Log> log;
            std::shared_ptr<std::optional<int>> alive_seen;
            rt::Poll<void> poll(rt::Context& cx) {
                if (sleep.poll(cx).is_pending()) return rt::pending;
                alive_seen->emplace(log->alive);
                return rt::ready;
            }
        };
        Executor executor;
        executor.spawn(Sleeper("a", executor.sleep(10ms), executor, log));
        executor.spawn(Witness{executor.sleep(10ms), log, alive_when_b_finished});
        CHECK(log->alive == 1);
        executor.run(max_rounds);
        REQUIRE(log->finished == Names{"a"});
        REQUIRE_MESSAGE(alive_when_b_finished->has_value(), "task b never finished");
        CHECK_MESSAGE(**alive_when_b_finished == 0,
                      "task a still existed when the next task was polled");
        CHECK(log->alive == 0);
    }

    TEST_CASE("a task that is ready at once costs one poll and no sleep") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Yielder("now", 0, executor, log));
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->finished == Names{"now"});
        CHECK(stats.polls == 1);
        CHECK(stats.completed == 1);
        CHECK(stats.sleeps == 0);
        CHECK(executor.clock().sleeps.empty());
    }

    TEST_CASE("a task spawned by a running task is polled before the executor sleeps") {
        auto log = std::make_shared<Log>();
        Executor executor;
        // The parent spawns a child that sleeps 5 ms, then sleeps 10 ms itself. If the executor
        // slept after the first round, before the child's first poll, it would sleep to 10 ms.
        struct Parent {
            using Output = void;
            Executor* executor;
            std::shared_ptr<Log> log;
            std::optional<Executor::Sleep> sleep;
            rt::Poll<void> poll(rt::Context& cx) {
                if (!sleep) {
                    executor->spawn(Sleeper("child", executor->sleep(5ms), *executor, log));
                    sleep.emplace(executor->sleep(10ms));
                }
                if (sleep->poll(cx).is_pending()) return rt::pending;
                log->finished.push_back("parent");
                return rt::ready;
            }
        };
        executor.spawn(Parent{&executor, log, std::nullopt});
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->finished == Names{"child", "parent"});
        CHECK(ms_since_start(executor.clock().sleeps) == Millis{5, 10});
        CHECK(stats.completed == 2);
    }

    TEST_CASE("with no task, run returns at once") {
        Executor executor;
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(stats.polls == 0);
        CHECK(stats.completed == 0);
        CHECK(stats.sleeps == 0);
        CHECK(executor.clock().sleeps.empty());
        CHECK(executor.clock().now() == t0);
    }

    TEST_CASE("a deadline that passed during the round is not slept for") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Sleeper("a", executor.sleep(10ms), executor, log));
        // A slow poll: 15 ms go by while it runs, after a reported its 10 ms deadline.
        struct Slow {
            using Output = void;
            Executor* executor;
            rt::Poll<void> poll(rt::Context&) {
                executor->clock().advance(15ms);
                return rt::ready;
            }
        };
        executor.spawn(Slow{&executor});
        const Executor::Stats stats = executor.run(max_rounds);
        CHECK(log->finished == Names{"a"});
        CHECK(ms_since_start(log->finished_at) == Millis{15});
        CHECK(executor.clock().sleeps.empty());
        CHECK(stats.sleeps == 0);
        CHECK(stats.polls == 3);
    }

    TEST_CASE("a thousand tasks with random deadlines take at most one sleep per deadline") {
        auto log = std::make_shared<Log>();
        Executor executor;
        std::mt19937 random(20240601);  // fixed seed: the same deadlines on every run
        std::uniform_int_distribution<int> millis(0, 200);
        std::set<std::int64_t> distinct;
        for (int i = 0; i < 1000; ++i) {
            const int ms = millis(random);
            distinct.insert(ms);
            executor.spawn(Sleeper(std::to_string(ms),
                                   executor.sleep(std::chrono::milliseconds(ms)), executor, log));
        }
        const Executor::Stats stats = executor.run(max_rounds);
        REQUIRE(log->finished.size() == 1000);
        CHECK(stats.completed == 1000);
        // Every task finished exactly at its deadline, so in deadline order.
        for (std::size_t i = 0; i < log->finished.size(); ++i) {
            CAPTURE(i);
            CHECK(std::to_string(ms_since_start(log->finished_at[i])) == log->finished[i]);
        }
        CHECK(std::is_sorted(log->finished_at.begin(), log->finished_at.end()));
        distinct.erase(0);  // ready at the first poll: no sleep needed
        CHECK(stats.sleeps <= distinct.size());
        const Millis slept = ms_since_start(executor.clock().sleeps);
        CHECK_MESSAGE(
            std::adjacent_find(slept.begin(), slept.end(), std::greater_equal<>()) == slept.end(),
            "the executor slept twice until the same deadline, or went back in time");
    }

    TEST_CASE("run stops after the round limit and leaves the unfinished tasks queued") {
        auto log = std::make_shared<Log>();
        Executor executor;
        executor.spawn(Yielder("busy", 100, executor, log));
        const Executor::Stats stats = executor.run(5);
        CHECK(stats.rounds == 5);
        CHECK(stats.polls == 5);
        CHECK(stats.completed == 0);
        CHECK(executor.pending_tasks() == 1);
        CHECK(log->finished.empty());
    }

    TEST_CASE("on the real clock, a 20 ms sleep takes a handful of polls") {
        rt::SleepingExecutor<rt::RealClock> executor;
        auto finished = std::make_shared<bool>(false);
        struct Task {
            using Output = void;
            rt::SleepingExecutor<rt::RealClock>::Sleep sleep;
            std::shared_ptr<bool> finished;
            rt::Poll<void> poll(rt::Context& cx) {
                if (sleep.poll(cx).is_pending()) return rt::pending;
                *finished = true;
                return rt::ready;
            }
        };
        executor.spawn(Task{executor.sleep(20ms), finished});
        // A run() that spins polls the task far more than a handful of times before the
        // deadline or the round limit stops it.
        const auto stats = executor.run(max_rounds);
        CHECK(*finished);
        CHECK(stats.completed == 1);
        CHECK(stats.sleeps >= 1);
        CHECK(stats.polls <= 5);  // 2 if the sleep ends at the deadline; room for early ends
    }
}
