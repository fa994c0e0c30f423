// Behaviour tests of every stage with chapter 3's reactors and simulated device (chapters 3
// and 4): the seed's wake-all reactor and what it costs, the keyed reactor, the device on its
// own thread, and the lost-wakeup race shown and fixed.
//
// Most tests choose the moment a request completes (device.complete), and depend on no timing.
// Two count what happens when the device's thread completes requests at their latency, which
// needs the executor to have polled (and slept) before: they try a short latency and, when the
// run was too slow for it, a longer one (with_growing_spans). No verdict depends on the
// machine's speed, only the tests' duration does.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "rt/device.hpp"
#include "rt/executor.hpp"
#include "rt/reactor.hpp"
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

/// What a test sees of a task that waits on device requests.
struct Seen {
    int polls = 0;           // polls of the task
    int requests_done = 0;   // requests that answered ready
    std::vector<int> order;  // shared by several tasks: ids in the order they finished
};

/// A task that waits for one device request, then records `id` as finished.
template <class Reactor>
class Waiter {
public:
    using Output = void;
    Waiter(rt::DeviceRequest<Reactor> request, int id, std::shared_ptr<Seen> seen)
        : request_(std::move(request)), id_(id), seen_(std::move(seen)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++seen_->polls;
        if (request_.poll(cx).is_pending()) return rt::pending;
        ++seen_->requests_done;
        seen_->order.push_back(id_);
        return rt::ready;
    }

private:
    rt::DeviceRequest<Reactor> request_;
    int id_;
    std::shared_ptr<Seen> seen_;
};

/// A task that submits `count` requests one after the other, each from inside its poll, with
/// latencies drawn from `latency`: the device's thread completes them while the executor's
/// thread checks and registers, which is where a lost wakeup would happen.
template <class Reactor>
class Chain {
public:
    using Output = void;
    Chain(rt::Device<Reactor>& device, int count, std::uint32_t seed)
        : device_(&device), left_(count), random_(seed) {}

    rt::Poll<void> poll(rt::Context& cx) {
        for (;;) {
            if (!request_) {
                if (left_ == 0) return rt::ready;
                --left_;
                request_.emplace(device_->request(std::chrono::microseconds(random_() % 50)));
            }
            if (request_->poll(cx).is_pending()) return rt::pending;
            request_.reset();
        }
    }

private:
    rt::Device<Reactor>* device_;
    int left_;
    std::minstd_rand random_;
    std::optional<rt::DeviceRequest<Reactor>> request_;
};

/// A waker like a task's: every clone has the same data pointer, so will_wake is true between
/// them, as it is between two wakers of one task. Counts what is done to it.
class TaskLikeWaker {
public:
    rt::Waker waker() {
        ++alive_;
        return rt::Waker(rt::RawWaker{this, &vtable});
    }
    int clones() const { return clones_.load(); }
    int wakes() const { return wakes_.load(); }
    int alive() const { return alive_.load(); }

private:
    static TaskLikeWaker& from(const void* data) {
        return *static_cast<TaskLikeWaker*>(const_cast<void*>(data));
    }
    static rt::RawWaker clone(const void* data) {
        ++from(data).clones_;
        ++from(data).alive_;
        return rt::RawWaker{data, &vtable};
    }
    static void wake(const void* data) {
        ++from(data).wakes_;
        --from(data).alive_;
    }
    static void wake_by_ref(const void* data) { ++from(data).wakes_; }
    static void drop(const void* data) { --from(data).alive_; }
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};

    std::atomic<int> clones_{0};
    std::atomic<int> wakes_{0};
    std::atomic<int> alive_{0};
};

/// How run_until_done_or_stuck ended.
enum class RunEnd {
    done,      // every task completed
    stuck,     // tasks wait, no request is in flight and none is ready: a lost wakeup
    too_long,  // still going after testing::patience(): the device's thread stopped completing
};

/// Drive the executor until every task is done, or until no task can ever be woken again:
/// no request in flight, none ready. Never sleeps: what it waits for is the device's µs
/// latencies; and never hangs: it gives up after testing::patience().
template <class Reactor>
RunEnd run_until_done_or_stuck(rt::Executor& executor, rt::Device<Reactor>& device) {
    const auto give_up = std::chrono::steady_clock::now() + testing::patience();
    for (;;) {
        // Read before polling: if nothing was in flight then, and the poll below finds no task
        // ready, every completion's wake was already delivered (completed() acquires) and
        // nothing can be submitted without a poll: the waiting tasks will never be woken.
        const bool quiet = device.completed() == device.submitted();
        const rt::RunStats stats = executor.run_until_idle();
        if (executor.pending_tasks() == 0) return RunEnd::done;
        if (quiet && stats.polls == 0) return RunEnd::stuck;
        if (std::chrono::steady_clock::now() >= give_up) return RunEnd::too_long;
        if (stats.polls == 0) std::this_thread::yield();  // let the device's thread have the CPU
    }
}

constexpr auto never = 1h;  // a latency no test waits for: the test completes the request

}  // namespace

TEST_SUITE("wake-all reactor") {
    TEST_CASE("wake_all wakes every registered waker once and forgets them all") {
        rt::WakeAllReactor reactor;
        testing::CountingWaker a, b, c;
        reactor.register_waker(a.waker());
        reactor.register_waker(b.waker());
        reactor.register_waker(c.waker());
        CHECK(reactor.registrations() == 3);
        reactor.wake_all();
        CHECK(a.wakes() == 1);
        CHECK(b.wakes() == 1);
        CHECK(c.wakes() == 1);
        CHECK(reactor.registrations() == 0);
        CHECK(reactor.wakes() == 3);
        reactor.wake_all();  // nobody left to wake
        CHECK(a.wakes() == 1);
        CHECK(reactor.wakes() == 3);
    }

    TEST_CASE("an event is not remembered: a waker registered after wake_all waits for the next") {
        rt::WakeAllReactor reactor;
        testing::CountingWaker late;
        reactor.wake_all();
        reactor.register_waker(late.waker());
        CHECK(late.wakes() == 0);
        reactor.wake_all();
        CHECK(late.wakes() == 1);
    }

    TEST_CASE("one completion wakes every waiting task, and all but one are polled for nothing") {
        rt::WakeAllReactor reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        std::vector<rt::Token> tokens;
        for (int id = 0; id < 3; ++id) {
            auto request = device.request(never);
            tokens.push_back(request.token());
            executor.spawn(Waiter(std::move(request), id, seen));
        }
        executor.run_until_idle();
        CHECK(seen->polls == 3);
        CHECK(reactor.registrations() == 3);

        device.complete(tokens[1]);
        CHECK(reactor.wakes() == 3);  // one event, three wakes
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 3);
        CHECK(seen->order == std::vector<int>{1});
        CHECK(executor.pending_tasks() == 2);  // the two spurious polls registered again
        CHECK(reactor.registrations() == 2);
    }
}

TEST_SUITE("keyed reactor") {
    TEST_CASE("notify wakes only the waker registered under its key") {
        rt::KeyedReactor reactor;
        testing::CountingWaker one, two;
        reactor.register_waker(1, one.waker());
        reactor.register_waker(2, two.waker());
        CHECK(reactor.notify(2));
        CHECK(one.wakes() == 0);
        CHECK(two.wakes() == 1);
        CHECK(reactor.registrations() == 1);
        CHECK(reactor.wakes() == 1);
    }

    TEST_CASE("a registration is used once: a second notify of the key wakes nobody") {
        rt::KeyedReactor reactor;
        testing::CountingWaker waker;
        reactor.register_waker(7, waker.waker());
        CHECK(reactor.notify(7));
        CHECK_FALSE(reactor.notify(7));
        CHECK(waker.wakes() == 1);
        CHECK(waker.alive() == 0);  // the reactor's clone was consumed by the wake
    }

    TEST_CASE("an event is not remembered: a notify before the registration wakes nobody") {
        rt::KeyedReactor reactor;
        testing::CountingWaker late;
        CHECK_FALSE(reactor.notify(3));
        reactor.register_waker(3, late.waker());
        CHECK(late.wakes() == 0);
        CHECK(reactor.registrations() == 1);
    }

    TEST_CASE("registering the same task's waker again keeps the one registered, without a clone") {
        rt::KeyedReactor reactor;
        TaskLikeWaker task;
        const rt::Waker waker = task.waker();
        reactor.register_waker(5, waker);
        CHECK(task.clones() == 1);
        reactor.register_waker(5, waker);
        reactor.register_waker(5, waker);
        CHECK(task.clones() == 1);
        CHECK(reactor.registrations() == 1);
        CHECK(reactor.notify(5));
        CHECK(task.wakes() == 1);
    }

    TEST_CASE("registering another waker under a key drops the stale one, which is never woken") {
        rt::KeyedReactor reactor;
        testing::CountingWaker stale, fresh;
        reactor.register_waker(4, stale.waker());
        CHECK(stale.alive() == 1);  // the reactor's clone
        reactor.register_waker(4, fresh.waker());
        CHECK(stale.alive() == 0);
        CHECK(reactor.registrations() == 1);
        CHECK(reactor.notify(4));
        CHECK(fresh.wakes() == 1);
        CHECK(stale.wakes() == 0);
    }

    TEST_CASE("deregister forgets a registration without waking it") {
        rt::KeyedReactor reactor;
        testing::CountingWaker waker;
        reactor.register_waker(9, waker.waker());
        reactor.deregister(9);
        CHECK(reactor.registrations() == 0);
        CHECK(waker.alive() == 0);
        CHECK_FALSE(reactor.notify(9));
        CHECK(waker.wakes() == 0);
    }

    TEST_CASE("notify from another thread wakes the task on the executor's thread") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        auto request = device.request(never);
        const rt::Token token = request.token();
        executor.spawn(Waiter(std::move(request), 0, seen));
        executor.run_until_idle();
        std::thread other([&] { device.complete(token); });
        other.join();
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 1);
        CHECK(seen->requests_done == 1);
    }

    TEST_CASE("one completion wakes only its own task") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        std::vector<rt::Token> tokens;
        for (int id = 0; id < 3; ++id) {
            auto request = device.request(never);
            tokens.push_back(request.token());
            executor.spawn(Waiter(std::move(request), id, seen));
        }
        executor.run_until_idle();
        CHECK(reactor.registrations() == 3);
        device.complete(tokens[1]);
        CHECK(reactor.wakes() == 1);
        const rt::RunStats stats = executor.run_until_idle();
        CHECK(stats.polls == 1);
        CHECK(seen->order == std::vector<int>{1});
        CHECK(reactor.registrations() == 2);
    }

    TEST_CASE("a request dropped while it waits takes its registration back") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        testing::CountingWaker waker;
        {
            auto request = device.request(never);
            CHECK(testing::poll_once(request, waker.waker()).is_pending());
            CHECK(reactor.registrations() == 1);
            CHECK(waker.alive() == 1);
        }
        CHECK(reactor.registrations() == 0);
        CHECK(waker.alive() == 0);
    }

    TEST_CASE("a request polled again with a new waker registers the new one") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        testing::CountingWaker first, second;
        auto request = device.request(never);
        CHECK(testing::poll_once(request, first.waker()).is_pending());
        CHECK(testing::poll_once(request, second.waker()).is_pending());
        CHECK(reactor.registrations() == 1);
        device.complete(request.token());
        CHECK(first.wakes() == 0);
        CHECK(second.wakes() == 1);
        CHECK(testing::poll_once(request, second.waker()).is_ready());
    }
}

TEST_SUITE("device") {
    TEST_CASE_TEMPLATE("the device's thread completes a request and wakes a sleeping executor", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        // Two polls and a sleep need the request to be still in flight at the first poll, and
        // when the executor finds nothing to run: a run too slow for the latency tries a
        // longer one.
        const bool slept = testing::with_growing_spans([](std::chrono::milliseconds latency) {
            R reactor;
            rt::Device device(reactor);
            rt::Executor executor;
            auto seen = std::make_shared<Seen>();
            executor.spawn(Waiter(device.request(latency), 0, seen));
            const rt::RunStats stats = executor.run();  // sleeps until the device's thread wakes it
            CHECK(seen->requests_done == 1);
            if (stats.polls == 1) return false;  // complete before its first poll ended
            CHECK(stats.polls == 2);
            return stats.parks >= 1;  // or the completion came before the executor slept
        });
        CHECK_MESSAGE(slept,
                      "the executor never slept while its task waited for the device's "
                      "thread, even with a latency of 10 s");
    }

    TEST_CASE_TEMPLATE("a request complete before its first poll is ready without registering", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        R reactor;
        rt::Device device(reactor);
        testing::CountingWaker waker;
        auto request = device.request(never);
        CHECK(device.complete(request.token()));
        CHECK(testing::poll_once(request, waker.waker()).is_ready());
        CHECK(reactor.registrations() == 0);
        CHECK(waker.clones() == 0);
    }

    TEST_CASE("requests complete in the order of their deadlines, not of their submission") {
        // A latency counts from its submission, so the deadlines are in id order only if the
        // three submissions took less than one step; and the tasks finish in completion order
        // only if every request was still in flight at its task's first poll (two polls each).
        // A run too slow for either tries a longer step.
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds step) {
            rt::KeyedReactor reactor;
            rt::Device device(reactor);
            rt::Executor executor;
            auto seen = std::make_shared<Seen>();
            const auto before = std::chrono::steady_clock::now();
            for (int id : {3, 1, 2}) executor.spawn(Waiter(device.request(id * step), id, seen));
            const bool deadlines_in_order = std::chrono::steady_clock::now() - before < step;
            executor.run();
            CHECK(seen->requests_done == 3);
            if (!deadlines_in_order || seen->polls < 6) return false;
            CHECK(seen->order == std::vector<int>{1, 2, 3});
            CHECK(seen->polls == 6);
            return true;
        });
        CHECK_MESSAGE(in_time,
                      "the requests were never all submitted and polled before the "
                      "first of them completed, even 10 s apart");
    }

    TEST_CASE("a request completes once: completing it again reports false and wakes nobody") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        testing::CountingWaker waker;
        auto request = device.request(never);
        CHECK(testing::poll_once(request, waker.waker()).is_pending());
        CHECK(device.complete(request.token()));
        CHECK_FALSE(device.complete(request.token()));
        CHECK(waker.wakes() == 1);
        CHECK(device.completed() == 1);
    }

    TEST_CASE_TEMPLATE("a device and executor destroyed with requests in flight leak nothing", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        auto seen = std::make_shared<Seen>();
        R reactor;
        {
            rt::Device device(reactor);
            rt::Executor executor;
            for (int id = 0; id < 3; ++id) executor.spawn(Waiter(device.request(never), id, seen));
            executor.run_until_idle();
            CHECK(executor.pending_tasks() == 3);
        }
        CHECK(seen.use_count() == 1);  // every task's future, with its copy of `seen`, is gone
        CHECK(seen->requests_done == 0);
        // The wake-all list may still hold wakers of finished tasks; they go with the reactor.
        // Memory: the sanitizer build (LeakSanitizer) fails this test if a task leaked.
    }
}

TEST_SUITE("lost wakeup") {
    // snippet-begin: race-test
    TEST_CASE_TEMPLATE("checking, then registering, loses a completion that lands in between", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        R reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        auto request = device.request(never, rt::WaitOrder::check_then_register);
        const rt::Token token = request.token();
        request.between_check_and_register([&device, token] { device.complete(token); });
        executor.spawn(Waiter(std::move(request), 0, seen));

        executor.run_until_idle();
        CHECK(device.completed() == 1);       // the event happened...
        CHECK(reactor.wakes() == 0);          // ...when no waker was registered yet
        CHECK(reactor.registrations() == 1);  // the waker came too late, and waits for ever
        executor.run_until_idle();
        CHECK(seen->polls == 1);  // never polled again
        CHECK(seen->requests_done == 0);
        CHECK(executor.pending_tasks() == 1);  // stuck: run() would sleep for ever
    }
    // snippet-end: race-test

    TEST_CASE_TEMPLATE("registering, then checking again, completes under the same interleaving", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        R reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        auto seen = std::make_shared<Seen>();
        auto request = device.request(never, rt::WaitOrder::register_then_check);
        const rt::Token token = request.token();
        request.between_check_and_register([&device, token] { device.complete(token); });
        executor.spawn(Waiter(std::move(request), 0, seen));

        executor.run_until_idle();
        CHECK(device.completed() == 1);
        CHECK(seen->polls == 1);  // the check after registering saw the completion
        CHECK(seen->requests_done == 1);
        CHECK(executor.pending_tasks() == 0);
        if constexpr (std::same_as<R, rt::KeyedReactor>) {
            CHECK(reactor.registrations() == 0);  // the registration was taken back
        }
    }

    TEST_CASE_TEMPLATE("a device thread racing real polls never loses a wakeup", R,
                       rt::WakeAllReactor, rt::KeyedReactor) {
        constexpr int rounds = 200;
        constexpr int tasks = 16;
        constexpr int requests_per_task = 4;
        int stuck_rounds = 0;
        for (int round = 0; round < rounds; ++round) {
            R reactor;
            rt::Device device(reactor);
            rt::Executor executor;
            for (int t = 0; t < tasks; ++t) {
                executor.spawn(Chain(device, requests_per_task,
                                     static_cast<std::uint32_t>(round * tasks + t + 1)));
            }
            const RunEnd end = run_until_done_or_stuck(executor, device);
            REQUIRE_MESSAGE(end != RunEnd::too_long,
                            "round " << round
                                     << ": requests of µs latencies were still in "
                                        "flight after testing::patience()");
            if (end == RunEnd::stuck) ++stuck_rounds;
            // A stuck round's tasks are released by the executor's destructor, here.
        }
        CHECK(stuck_rounds == 0);
    }
}
