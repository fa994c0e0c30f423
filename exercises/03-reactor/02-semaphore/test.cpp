// Tests of exercise 03-02, the specification of the async semaphore: permits are never
// over-granted, a released permit wakes the oldest waiter, waiters are served first come,
// first served, and no permit is lost when a waiter goes away. Every test ends on its own,
// even against the starter: futures are polled by hand, executors run only until idle, and
// the test with a releasing thread stops as soon as nothing more can happen.
#include <doctest/doctest.h>

#include <semaphore.hpp>

#include <algorithm>
#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "testing/wakers.hpp"

using rt::sync::Semaphore;
using rt::sync::SemaphorePermit;

namespace {

// The interface: acquire() is a future of a move-only permit.
static_assert(rt::Future<Semaphore::Acquire>);
static_assert(std::same_as<Semaphore::Acquire::Output, SemaphorePermit>);
static_assert(std::is_nothrow_move_constructible_v<SemaphorePermit>);
static_assert(!std::is_copy_constructible_v<SemaphorePermit>);

/// Poll an acquire once; the permit if it was ready.
std::optional<SemaphorePermit> try_poll(Semaphore::Acquire& acquire, const rt::Waker& waker) {
    rt::Poll<SemaphorePermit> polled = testing::poll_once(acquire, waker);
    if (polled.is_pending()) return std::nullopt;
    return std::move(polled).value();
}

/// A waker whose clones all share one data pointer, as the clones of a task's waker do, so
/// that will_wake recognises them. Counts clones and wakes.
class TaskLikeWaker {
public:
    rt::Waker waker() { return rt::Waker(rt::RawWaker{this, &vtable}); }
    int clones() const { return clones_.load(); }
    int wakes() const { return wakes_.load(); }

private:
    static TaskLikeWaker& self(const void* data) {
        return *static_cast<TaskLikeWaker*>(const_cast<void*>(data));
    }
    static rt::RawWaker clone(const void* data) {
        self(data).clones_.fetch_add(1);
        return rt::RawWaker{data, &vtable};
    }
    static void wake(const void* data) { self(data).wakes_.fetch_add(1); }
    static void wake_by_ref(const void* data) { self(data).wakes_.fetch_add(1); }
    static void drop(const void*) {}
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};

    std::atomic<int> clones_{0};
    std::atomic<int> wakes_{0};
};

/// What the tasks of the executor test saw (one thread: plain ints).
struct Holders {
    int now = 0;             // tasks holding a permit
    int most = 0;            // the most that ever held one at once
    std::vector<int> order;  // task ids in the order they got their permit
};

/// A task: acquire a permit, hold it across two polls (so others run meanwhile), let it go.
class Worker {
public:
    using Output = void;
    Worker(Semaphore& semaphore, int id, std::shared_ptr<Holders> holders)
        : acquire_(semaphore.acquire()), id_(id), holders_(std::move(holders)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (!permit_) {
            rt::Poll<SemaphorePermit> polled = acquire_.poll(cx);
            if (polled.is_pending()) return rt::pending;
            permit_ = std::make_unique<SemaphorePermit>(std::move(polled).value());
            holders_->order.push_back(id_);
            holders_->most = std::max(holders_->most, ++holders_->now);
        }
        if (yields_ < 2) {  // let the others run: pending, and woken at once
            ++yields_;
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        --holders_->now;
        permit_.reset();
        return rt::ready;
    }

private:
    Semaphore::Acquire acquire_;
    int id_;
    std::shared_ptr<Holders> holders_;
    // A std::optional would do; GCC 12 with sanitizers warns (wrongly) about it being moved.
    std::unique_ptr<SemaphorePermit> permit_;
    int yields_ = 0;
};

/// A thread that gives back, on its own thread, the permits handed to it. Counts them.
class Releaser {
public:
    explicit Releaser(std::atomic<int>& most) : most_(&most), thread_([this] { run(); }) {}
    ~Releaser() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        changed_.notify_one();
        thread_.join();
    }

    /// Called by a task, on the executor's thread, with the permit it just got.
    void hand(SemaphorePermit permit) {
        const int now = holding_.fetch_add(1) + 1;
        int seen = most_->load();
        while (now > seen && !most_->compare_exchange_weak(seen, now)) {
        }
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(std::move(permit));
        }
        ++handed_;
        changed_.notify_one();
    }

    int handed() const { return handed_; }  // executor's thread only
    /// acquire: pairs with the release in run(), so the wakes caused by every permit counted
    /// here have been delivered.
    int released() const { return released_.load(std::memory_order_acquire); }

private:
    void run() {
        std::unique_lock lock(mutex_);
        for (;;) {
            changed_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;
            SemaphorePermit permit = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            holding_.fetch_sub(1);  // before the permit goes: never counts one too few
            { SemaphorePermit gone = std::move(permit); }
            released_.fetch_add(1, std::memory_order_release);  // pairs with released()
            lock.lock();
        }
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<SemaphorePermit> queue_;  // guarded by mutex_
    bool stop_ = false;                  // guarded by mutex_
    int handed_ = 0;
    std::atomic<int> released_{0};
    std::atomic<int> holding_{0};  // permits out, as the tasks and this thread see them
    std::atomic<int>* most_;       // the most ever out at once
    std::thread thread_;           // last: started after the members it uses exist
};

/// A task: acquire a permit and hand it to the releaser thread.
class HandOver {
public:
    using Output = void;
    HandOver(Semaphore& semaphore, Releaser& releaser)
        : acquire_(semaphore.acquire()), releaser_(&releaser) {}

    rt::Poll<void> poll(rt::Context& cx) {
        rt::Poll<SemaphorePermit> polled = acquire_.poll(cx);
        if (polled.is_pending()) return rt::pending;
        releaser_->hand(std::move(polled).value());
        return rt::ready;
    }

private:
    Semaphore::Acquire acquire_;
    Releaser* releaser_;
};

}  // namespace

TEST_SUITE("semaphore") {
    TEST_CASE("acquire is ready at once while permits are free, and a dropped permit comes back") {
        Semaphore semaphore(2);
        testing::CountingWaker waker;
        auto first = semaphore.acquire();
        auto second = semaphore.acquire();
        std::optional<SemaphorePermit> one = try_poll(first, waker.waker());
        std::optional<SemaphorePermit> two = try_poll(second, waker.waker());
        REQUIRE(one.has_value());
        REQUIRE(two.has_value());
        CHECK(semaphore.available_permits() == 0);
        one.reset();
        CHECK(semaphore.available_permits() == 1);
        two.reset();
        CHECK(semaphore.available_permits() == 2);
        CHECK(waker.clones() == 0);  // nobody waited, so no waker was kept
    }

    TEST_CASE("a waiting acquirer is woken when a permit is released, and then gets it") {
        Semaphore semaphore(1);
        testing::CountingWaker holder, waiter;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        auto second = semaphore.acquire();
        CHECK_FALSE(try_poll(second, waiter.waker()).has_value());
        CHECK(semaphore.waiters() == 1);
        CHECK(waiter.wakes() == 0);
        held.reset();
        CHECK(waiter.wakes() == 1);
        CHECK(semaphore.waiters() == 0);
        CHECK(semaphore.available_permits() == 0);  // handed over, not put back in the pool
        CHECK(try_poll(second, waiter.waker()).has_value());
        CHECK(waiter.alive() == 0);
    }

    TEST_CASE("a released permit goes to the oldest waiter: first come, first served") {
        Semaphore semaphore(1);
        testing::CountingWaker a, b, c, holder;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        auto acquire_a = semaphore.acquire();
        auto acquire_b = semaphore.acquire();
        auto acquire_c = semaphore.acquire();
        CHECK_FALSE(try_poll(acquire_a, a.waker()).has_value());
        CHECK_FALSE(try_poll(acquire_b, b.waker()).has_value());
        CHECK_FALSE(try_poll(acquire_c, c.waker()).has_value());
        CHECK(semaphore.waiters() == 3);

        held.reset();
        CHECK(a.wakes() == 1);
        CHECK(b.wakes() == 0);
        CHECK(c.wakes() == 0);
        CHECK_FALSE(try_poll(acquire_c, c.waker()).has_value());  // younger waiters wait on
        CHECK_FALSE(try_poll(acquire_b, b.waker()).has_value());
        std::optional<SemaphorePermit> permit_a = try_poll(acquire_a, a.waker());
        REQUIRE(permit_a.has_value());

        permit_a.reset();
        CHECK(b.wakes() == 1);
        CHECK(c.wakes() == 0);
        std::optional<SemaphorePermit> permit_b = try_poll(acquire_b, b.waker());
        REQUIRE(permit_b.has_value());
        permit_b.reset();
        CHECK(c.wakes() == 1);
        CHECK(try_poll(acquire_c, c.waker()).has_value());
    }

    TEST_CASE("a newcomer cannot take a permit handed to a waiter that has not polled yet") {
        Semaphore semaphore(1);
        testing::CountingWaker waiter, newcomer, holder;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        auto waiting = semaphore.acquire();
        CHECK_FALSE(try_poll(waiting, waiter.waker()).has_value());
        held.reset();  // handed to `waiting`, which is woken but not polled yet
        auto late = semaphore.acquire();
        CHECK_FALSE(try_poll(late, newcomer.waker()).has_value());
        CHECK(try_poll(waiting, waiter.waker()).has_value());
        CHECK(semaphore.available_permits() == 0);
    }

    TEST_CASE("a waiter polled again by the same task keeps its waker; a new task's replaces it") {
        Semaphore semaphore(0);
        TaskLikeWaker task;
        testing::CountingWaker other;
        const rt::Waker waker = task.waker();
        auto acquire = semaphore.acquire();
        CHECK_FALSE(try_poll(acquire, waker).has_value());
        CHECK_FALSE(try_poll(acquire, waker).has_value());
        CHECK(task.clones() == 1);
        CHECK_FALSE(try_poll(acquire, other.waker()).has_value());
        CHECK(other.alive() == 1);
        semaphore.add_permits(1);
        CHECK(other.wakes() == 1);
        CHECK(task.wakes() == 0);  // the stale waker is never woken
    }

    TEST_CASE("add_permits serves waiters first, oldest first, and the rest goes to the pool") {
        Semaphore semaphore(0);
        testing::CountingWaker a, b, c;
        auto acquire_a = semaphore.acquire();
        auto acquire_b = semaphore.acquire();
        auto acquire_c = semaphore.acquire();
        CHECK_FALSE(try_poll(acquire_a, a.waker()).has_value());
        CHECK_FALSE(try_poll(acquire_b, b.waker()).has_value());
        CHECK_FALSE(try_poll(acquire_c, c.waker()).has_value());
        semaphore.add_permits(2);
        CHECK(a.wakes() == 1);
        CHECK(b.wakes() == 1);
        CHECK(c.wakes() == 0);
        CHECK(semaphore.available_permits() == 0);
        semaphore.add_permits(2);
        CHECK(c.wakes() == 1);
        CHECK(semaphore.available_permits() == 1);
    }

    TEST_CASE("a permit moved to a new owner is given back once, when the new owner drops it") {
        Semaphore semaphore(1);
        testing::CountingWaker waker;
        auto acquire = semaphore.acquire();
        std::optional<SemaphorePermit> first = try_poll(acquire, waker.waker());
        REQUIRE(first.has_value());
        std::optional<SemaphorePermit> second(std::move(*first));
        first.reset();  // moved from: gives nothing back
        CHECK(semaphore.available_permits() == 0);
        second.reset();
        CHECK(semaphore.available_permits() == 1);
    }
}

TEST_SUITE("semaphore: waiters that go away") {
    TEST_CASE("dropping a queued acquirer leaves the queue, releases its waker, loses no permit") {
        Semaphore semaphore(1);
        testing::CountingWaker holder, waiter;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        {
            auto waiting = semaphore.acquire();
            CHECK_FALSE(try_poll(waiting, waiter.waker()).has_value());
            CHECK(semaphore.waiters() == 1);
        }
        CHECK(semaphore.waiters() == 0);
        CHECK(waiter.alive() == 0);
        held.reset();
        CHECK(waiter.wakes() == 0);
        CHECK(semaphore.available_permits() == 1);
    }

    TEST_CASE("an acquirer dropped after it was handed a permit passes it to the next waiter") {
        Semaphore semaphore(1);
        testing::CountingWaker holder, a, b;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        auto acquire_b = semaphore.acquire();
        {
            auto acquire_a = semaphore.acquire();
            CHECK_FALSE(try_poll(acquire_a, a.waker()).has_value());
            CHECK_FALSE(try_poll(acquire_b, b.waker()).has_value());
            held.reset();  // handed to a, which goes away without taking it
            CHECK(a.wakes() == 1);
            CHECK(b.wakes() == 0);
        }
        CHECK(b.wakes() == 1);
        std::optional<SemaphorePermit> permit_b = try_poll(acquire_b, b.waker());
        REQUIRE(permit_b.has_value());
        permit_b.reset();
        CHECK(semaphore.available_permits() == 1);
    }

    TEST_CASE("an acquirer dropped after it was handed a permit, with nobody waiting, frees it") {
        Semaphore semaphore(1);
        testing::CountingWaker holder, a;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        {
            auto acquire_a = semaphore.acquire();
            CHECK_FALSE(try_poll(acquire_a, a.waker()).has_value());
            held.reset();
            CHECK(semaphore.available_permits() == 0);  // a holds it, even before polling
        }
        CHECK(semaphore.available_permits() == 1);
    }
}

TEST_SUITE("semaphore on the executor") {
    TEST_CASE("fifty tasks share three permits: never more than three at once, in arrival order") {
        Semaphore semaphore(3);
        auto holders = std::make_shared<Holders>();
        rt::Executor executor;
        for (int id = 0; id < 50; ++id) executor.spawn(Worker(semaphore, id, holders));
        executor.run_until_idle();  // every wake comes from this thread: idle means done or stuck
        CHECK(executor.pending_tasks() == 0);
        CHECK(holders->most == 3);
        REQUIRE(holders->order.size() == 50);
        for (int id = 0; id < 50; ++id) CHECK(holders->order[static_cast<std::size_t>(id)] == id);
        CHECK(semaphore.available_permits() == 3);
    }

    TEST_CASE("a permit released on another thread wakes the task waiting for it") {
        Semaphore semaphore(1);
        auto holders = std::make_shared<Holders>();
        testing::CountingWaker holder;
        auto first = semaphore.acquire();
        std::optional<SemaphorePermit> held = try_poll(first, holder.waker());
        REQUIRE(held.has_value());
        rt::Executor executor;
        executor.spawn(Worker(semaphore, 0, holders));
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 1);
        std::thread releaser([permit = std::move(*held)]() mutable {
            SemaphorePermit dropped = std::move(permit);  // given back on this thread
        });
        held.reset();
        releaser.join();
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 0);
        CHECK(holders->order == std::vector<int>{0});
    }

    TEST_CASE("permits given back on another thread are never over-granted nor lost") {
        constexpr int permits = 4;
        constexpr int rounds = 30;
        constexpr int tasks = 64;
        int stuck_rounds = 0;
        std::atomic<int> most{0};
        for (int round = 0; round < rounds; ++round) {
            Semaphore semaphore(permits);
            Releaser releaser(most);
            {
                rt::Executor executor;
                for (int t = 0; t < tasks; ++t) {
                    executor.spawn(HandOver(semaphore, releaser));
                }
                for (;;) {
                    // Read before polling: if every handed permit was given back then (and the
                    // wakes that caused delivered), and the poll below runs nobody, nothing can
                    // ever wake the tasks still waiting.
                    const bool quiet = releaser.released() == releaser.handed();
                    const rt::RunStats stats = executor.run_until_idle();
                    if (executor.pending_tasks() == 0) break;
                    if (quiet && stats.polls == 0) {
                        ++stuck_rounds;
                        break;
                    }
                }
            }  // a stuck round's tasks are destroyed here, before the semaphore
        }
        CHECK(stuck_rounds == 0);
        CHECK(most.load() <= permits);
        CHECK(most.load() >= 1);
    }
}
