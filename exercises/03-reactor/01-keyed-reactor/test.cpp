// Tests of exercise 03-01, the specification of EventReactor: notify(key) wakes only the future
// waiting on `key`, or is remembered for the next wait; stale wakers are replaced, dropped
// futures leave no registration, and no notify from another thread is ever lost. Every test
// ends on its own, even against the starter: futures are polled by hand, executors run only
// until idle, and threads are joined before the executor looks.
#include <doctest/doctest.h>

#include <event_reactor.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "testing/wakers.hpp"

namespace {

// The interface: wait(key) is a future with no output.
static_assert(rt::Future<rt::EventReactor::Wait>);
static_assert(std::same_as<decltype(std::declval<rt::EventReactor&>().wait(rt::Token{1})),
                           rt::EventReactor::Wait>);

/// A waker whose clones all share one data pointer, as the clones of a task's waker do, so
/// that will_wake recognises them. Counts clones, wakes and the wakers that exist.
class TaskLikeWaker {
public:
    rt::Waker waker() {
        alive_.fetch_add(1);
        return rt::Waker(rt::RawWaker{this, &vtable});
    }
    int clones() const { return clones_.load(); }
    int wakes() const { return wakes_.load(); }
    int alive() const { return alive_.load(); }

private:
    static TaskLikeWaker& self(const void* data) {
        return *static_cast<TaskLikeWaker*>(const_cast<void*>(data));
    }
    static rt::RawWaker clone(const void* data) {
        self(data).clones_.fetch_add(1);
        self(data).alive_.fetch_add(1);
        return rt::RawWaker{data, &vtable};
    }
    static void wake(const void* data) {
        self(data).wakes_.fetch_add(1);
        self(data).alive_.fetch_sub(1);
    }
    static void wake_by_ref(const void* data) { self(data).wakes_.fetch_add(1); }
    static void drop(const void* data) { self(data).alive_.fetch_sub(1); }
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};

    std::atomic<int> clones_{0};
    std::atomic<int> wakes_{0};
    std::atomic<int> alive_{0};
};

/// What the tasks of a test saw.
struct Seen {
    int polls = 0;  // polls of every task together
    int done = 0;   // tasks whose wait was ready
};

/// A task that awaits reactor.wait(key) and counts.
class Waiter {
public:
    using Output = void;
    Waiter(rt::EventReactor& reactor, rt::Token key, std::shared_ptr<Seen> seen)
        : wait_(reactor.wait(key)), seen_(std::move(seen)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++seen_->polls;
        if (wait_.poll(cx).is_pending()) return rt::pending;
        ++seen_->done;
        return rt::ready;
    }

private:
    rt::EventReactor::Wait wait_;
    std::shared_ptr<Seen> seen_;
};

}  // namespace

TEST_SUITE("event reactor") {
    TEST_CASE("a wait with no event is pending, and its waker is registered") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        auto wait = reactor.wait(1);
        CHECK(testing::poll_once(wait, waker.waker()).is_pending());
        CHECK(reactor.registrations() == 1);
        CHECK(waker.alive() == 1);  // the clone the reactor keeps
    }

    TEST_CASE("notify wakes the waiting future once, and the next poll is ready") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        auto wait = reactor.wait(1);
        CHECK(testing::poll_once(wait, waker.waker()).is_pending());
        reactor.notify(1);
        CHECK(waker.wakes() == 1);
        CHECK(reactor.registrations() == 0);  // a registration is used up by its wake
        CHECK(testing::poll_once(wait, waker.waker()).is_ready());
        CHECK(waker.alive() == 0);
    }

    TEST_CASE("notify wakes only the future waiting on its own key") {
        rt::EventReactor reactor;
        testing::CountingWaker one, two;
        auto first = reactor.wait(1);
        auto second = reactor.wait(2);
        CHECK(testing::poll_once(first, one.waker()).is_pending());
        CHECK(testing::poll_once(second, two.waker()).is_pending());
        reactor.notify(2);
        CHECK(one.wakes() == 0);
        CHECK(two.wakes() == 1);
        CHECK(reactor.registrations() == 1);
        CHECK(testing::poll_once(first, one.waker()).is_pending());
        CHECK(testing::poll_once(second, two.waker()).is_ready());
    }

    TEST_CASE("an event notified before anyone waits is remembered: the first poll is ready") {
        rt::EventReactor reactor;
        TaskLikeWaker task;
        reactor.notify(5);
        auto wait = reactor.wait(5);
        CHECK(testing::poll_once(wait, task.waker()).is_ready());
        CHECK(task.clones() == 0);  // nothing was registered
        CHECK(reactor.registrations() == 0);
    }

    TEST_CASE("a wait consumes the event: the next wait on the key waits for the next notify") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        reactor.notify(5);
        auto first = reactor.wait(5);
        CHECK(testing::poll_once(first, waker.waker()).is_ready());
        auto second = reactor.wait(5);
        CHECK(testing::poll_once(second, waker.waker()).is_pending());
        reactor.notify(5);
        CHECK(waker.wakes() == 1);
        CHECK(testing::poll_once(second, waker.waker()).is_ready());
    }

    TEST_CASE("two notifies nobody consumed in between count as one event") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        reactor.notify(3);
        reactor.notify(3);
        auto first = reactor.wait(3);
        CHECK(testing::poll_once(first, waker.waker()).is_ready());
        auto second = reactor.wait(3);
        CHECK(testing::poll_once(second, waker.waker()).is_pending());
    }

    TEST_CASE("a future polled again by the same task keeps the waker it has, without a clone") {
        rt::EventReactor reactor;
        TaskLikeWaker task;
        const rt::Waker waker = task.waker();
        auto wait = reactor.wait(4);
        CHECK(testing::poll_once(wait, waker).is_pending());
        CHECK(testing::poll_once(wait, waker).is_pending());
        CHECK(testing::poll_once(wait, waker).is_pending());
        CHECK(task.clones() == 1);
        CHECK(reactor.registrations() == 1);
        reactor.notify(4);
        CHECK(task.wakes() == 1);
    }

    TEST_CASE("a future polled again with another task's waker drops the stale one, never woken") {
        rt::EventReactor reactor;
        testing::CountingWaker stale, fresh;
        auto wait = reactor.wait(4);
        CHECK(testing::poll_once(wait, stale.waker()).is_pending());
        CHECK(stale.alive() == 1);
        CHECK(testing::poll_once(wait, fresh.waker()).is_pending());
        CHECK(stale.alive() == 0);  // released at once, not at the next event
        CHECK(reactor.registrations() == 1);
        reactor.notify(4);
        CHECK(fresh.wakes() == 1);
        CHECK(stale.wakes() == 0);
    }

    TEST_CASE("dropping a waiting future takes its registration back") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        {
            auto wait = reactor.wait(6);
            CHECK(testing::poll_once(wait, waker.waker()).is_pending());
            CHECK(reactor.registrations() == 1);
        }
        CHECK(reactor.registrations() == 0);
        CHECK(waker.alive() == 0);
        reactor.notify(6);
        CHECK(waker.wakes() == 0);
    }

    TEST_CASE("an event whose waiter was dropped before seeing it is kept for the next wait") {
        rt::EventReactor reactor;
        testing::CountingWaker waker;
        {
            auto wait = reactor.wait(8);
            CHECK(testing::poll_once(wait, waker.waker()).is_pending());
            reactor.notify(8);  // wakes it, but it is dropped before it is polled again
            CHECK(waker.wakes() == 1);
        }
        auto next = reactor.wait(8);
        CHECK(testing::poll_once(next, waker.waker()).is_ready());
    }
}

TEST_SUITE("event reactor across threads") {
    TEST_CASE("a notify from another thread wakes a task on the executor") {
        rt::EventReactor reactor;
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        executor.spawn(Waiter(reactor, 11, seen));
        executor.run_until_idle();
        CHECK(seen->polls == 1);
        CHECK(reactor.registrations() == 1);
        std::thread notifier([&reactor] { reactor.notify(11); });
        notifier.join();
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 1);
        CHECK(seen->done == 1);
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("notifies racing with first polls are never lost, and wake each task at most once") {
        constexpr int rounds = 100;
        constexpr int tasks = 32;
        int lost = 0;
        int extra_polls = 0;
        for (int round = 0; round < rounds; ++round) {
            rt::EventReactor reactor;
            rt::Executor executor;
            auto seen = std::make_shared<Seen>();
            std::vector<rt::Token> keys;
            for (rt::Token key = 0; key < tasks; ++key) {
                executor.spawn(Waiter(reactor, key, seen));
                keys.push_back(key);
            }
            std::shuffle(keys.begin(), keys.end(),
                         std::minstd_rand(static_cast<std::uint32_t>(round + 1)));
            std::atomic<bool> finished{false};
            std::thread notifier([&] {
                for (rt::Token key : keys) reactor.notify(key);
                finished.store(true, std::memory_order_release);  // pairs with the load below
            });
            // Poll while the notifier runs, so notifies land before, during and after polls.
            while (!finished.load(std::memory_order_acquire)) executor.run_until_idle();
            notifier.join();
            executor.run_until_idle();  // every wake was delivered before `finished` was set
            lost += static_cast<int>(executor.pending_tasks());
            extra_polls += std::max(0, seen->polls - 2 * tasks);  // a task needs 2 polls at most
        }
        CHECK(lost == 0);
        CHECK(extra_polls == 0);
    }
}
