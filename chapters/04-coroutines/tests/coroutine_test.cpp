// Tests of Task<T>, the coroutine type: laziness, values and exceptions through co_await,
// futures of earlier chapters under co_await, long chains without stack growth, and
// cancellation by destroying a suspended coroutine.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/device.hpp"
#include "rt/executor.hpp"
#include "rt/reactor.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "testing/growing_spans.hpp"
#include "testing/lifetimes.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

using testing::DestructionCounter;

namespace {

/// A future that is pending until its flag is set, keeping the latest waker to wake then.
struct Gate {
    bool open = false;
    std::optional<rt::Waker> waker;
    int polls = 0;

    void release() {
        open = true;
        if (waker) std::exchange(waker, std::nullopt)->wake_by_ref();
    }
};

class GateFuture {
public:
    using Output = int;
    explicit GateFuture(Gate& gate) : gate_(&gate) {}
    rt::Poll<int> poll(rt::Context& cx) {
        ++gate_->polls;
        if (gate_->open) return 7;
        gate_->waker = cx.waker();
        return rt::pending;
    }

private:
    Gate* gate_;
};

rt::Task<int> forty_two() { co_return 42; }

rt::Task<int> add_one(int n) { co_return n + 1; }

rt::Task<std::string> greet(std::string name) {
    const int answer = co_await forty_two();
    co_return "hello " + name + " " + std::to_string(answer);
}

rt::Task<int> thrower() {
    throw std::runtime_error("thrown inside a coroutine");
    co_return 0;
}

rt::Task<int> waits_on_gate(Gate& gate, std::shared_ptr<int> destroyed) {
    DestructionCounter local(std::move(destroyed));
    const int value = co_await GateFuture(gate);
    co_return value * 2;
}

rt::Task<int> middle(Gate& gate, std::shared_ptr<int> destroyed) {
    DestructionCounter local(destroyed);
    co_return co_await waits_on_gate(gate, destroyed) + 1;
}

rt::Task<long> sum_of_immediate_children(int count) {
    long sum = 0;
    for (int i = 0; i < count; ++i) sum += co_await add_one(0);
    co_return sum;
}

rt::Task<long> nested(int depth) {
    if (depth == 0) co_return 0;
    co_return 1 + co_await nested(depth - 1);
}

}  // namespace

TEST_SUITE("coroutine task") {
    TEST_CASE("calling a coroutine runs nothing until it is polled") {
        int runs = 0;
        auto body = [](int& counter) -> rt::Task<void> {
            ++counter;
            co_return;
        };
        rt::Task<void> task = body(runs);
        CHECK(runs == 0);
        CHECK(testing::poll_once(task).is_ready());
        CHECK(runs == 1);
    }

    TEST_CASE("a task that completes without waiting is ready at its first poll, with its value") {
        rt::Task<std::string> task = greet("reader");
        rt::Poll<std::string> result = testing::poll_once(task);
        REQUIRE(result.is_ready());
        CHECK(result.value() == "hello reader 42");
    }

    TEST_CASE("an exception thrown in a coroutine comes out of the poll that ends it") {
        rt::Task<int> task = thrower();
        CHECK_THROWS_WITH_AS(static_cast<void>(testing::poll_once(task)),
                             "thrown inside a coroutine", std::runtime_error);
    }

    TEST_CASE("an exception thrown in an awaited task can be caught by the awaiter") {
        auto catcher = []() -> rt::Task<std::string> {
            try {
                co_await thrower();
            } catch (const std::runtime_error& error) {
                co_return std::string("caught: ") + error.what();
            }
            co_return "not caught";
        };
        rt::Task<std::string> task = catcher();
        auto result = testing::poll_once(task);
        REQUIRE(result.is_ready());
        CHECK(result.value() == "caught: thrown inside a coroutine");
    }

    TEST_CASE("awaiting a pending future suspends the whole chain, and a wake resumes it") {
        Gate gate;
        auto destroyed = std::make_shared<int>(0);
        testing::CountingWaker waker;
        rt::Task<int> task = middle(gate, destroyed);

        CHECK(testing::poll_once(task, waker.waker()).is_pending());
        CHECK(gate.polls == 1);
        REQUIRE(gate.waker.has_value());
        CHECK(waker.clones() ==
              1);  // the future keeps a clone of the waker the task was polled with

        // A spurious poll polls the future again and does not resume the coroutine.
        CHECK(testing::poll_once(task, waker.waker()).is_pending());
        CHECK(gate.polls == 2);
        CHECK(*destroyed == 0);

        gate.release();
        CHECK(waker.wakes() == 1);
        rt::Poll<int> result = testing::poll_once(task, waker.waker());
        REQUIRE(result.is_ready());
        CHECK(result.value() == 15);  // 7 * 2 + 1
        CHECK(*destroyed == 2);       // both frames' locals, as each coroutine finished
    }

    TEST_CASE("a million awaits of tasks that finish at once run in constant stack") {
        // Without symmetric transfer each finished child would resume its parent with a
        // nested call, and a million of them would overflow the stack.
        rt::Task<long> task = sum_of_immediate_children(1'000'000);
        rt::Poll<long> result = testing::poll_once(task);
        REQUIRE(result.is_ready());
        CHECK(result.value() == 1'000'000);
    }

    TEST_CASE("a chain of a million nested awaits runs in constant stack") {
        rt::Task<long> task = nested(1'000'000);
        rt::Poll<long> result = testing::poll_once(task);
        REQUIRE(result.is_ready());
        CHECK(result.value() == 1'000'000);
    }

    TEST_CASE("destroying a suspended chain destroys every frame's locals and the awaited future") {
        Gate gate;
        auto destroyed = std::make_shared<int>(0);
        {
            rt::Task<int> task = middle(gate, destroyed);
            CHECK(testing::poll_once(task).is_pending());
            CHECK(gate.waker.has_value());
        }
        CHECK(*destroyed == 2);
    }

    TEST_CASE("a task that was never polled is destroyed with its parameters") {
        auto destroyed = std::make_shared<int>(0);
        auto takes = [](std::shared_ptr<DestructionCounter> owned) -> rt::Task<void> {
            co_await rt::yield_now();
            static_cast<void>(owned);
        };
        {
            rt::Task<void> task = takes(std::make_shared<DestructionCounter>(destroyed));
            CHECK(*destroyed == 0);
        }
        CHECK(*destroyed == 1);
    }

    TEST_CASE("a moved task keeps its frame where it is, and the move target drives it") {
        Gate gate;
        auto destroyed = std::make_shared<int>(0);
        rt::Task<int> first = waits_on_gate(gate, destroyed);
        CHECK(testing::poll_once(first).is_pending());
        rt::Task<int> second = std::move(first);  // moves the handle, not the frame
        gate.release();
        rt::Poll<int> result = testing::poll_once(second);
        REQUIRE(result.is_ready());
        CHECK(result.value() == 14);
    }
}

TEST_SUITE("coroutines on the executor") {
    TEST_CASE("yield_now under co_await lets the other tasks run in between") {
        rt::Executor executor;
        std::vector<std::string> log;
        auto worker = [&log](std::string name) -> rt::Task<void> {
            for (int i = 0; i < 3; ++i) {
                log.push_back(name + std::to_string(i));
                co_await rt::yield_now();
            }
        };
        executor.spawn(worker("a"));
        executor.spawn(worker("b"));
        executor.run();
        CHECK(log == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2", "b2"});
    }

    TEST_CASE("chapter 2's sleep works under co_await, with one poll to wait and one to finish") {
        // Two polls and a sleep of the executor need the first poll to come before the
        // deadline, and the executor to find nothing to run before it: a run too slow for the
        // sleep tries a longer one.
        const bool slept = testing::with_growing_spans([](std::chrono::milliseconds duration) {
            rt::Executor executor;
            bool done = false;
            auto sleeper = [&done, duration]() -> rt::Task<void> {
                co_await rt::sleep(duration);
                done = true;
            };
            executor.spawn(sleeper());
            const rt::RunStats stats = executor.run();
            CHECK(done);
            if (stats.polls == 1) return false;  // the sleep was over at its first poll
            CHECK(stats.polls == 2);
            return stats.parks >= 1;  // or the timer fired before the executor went to sleep
        });
        CHECK_MESSAGE(slept,
                      "the executor never slept while its task awaited a sleep, even "
                      "one of 10 s");
    }

    TEST_CASE("chapter 3's device requests work under co_await") {
        rt::KeyedReactor reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        std::vector<int> finished;
        // snippet-begin: device-client
        auto client = [&](int id, std::chrono::milliseconds latency) -> rt::Task<void> {
            for (int request = 0; request < 2; ++request) co_await device.request(latency);
            finished.push_back(id);
        };
        // snippet-end: device-client
        // The test completes every request itself (the device's thread never does, with an
        // hour of latency), in the order it chooses, so nothing depends on timing. A device
        // numbers its requests 1, 2, 3, ... in the order they are submitted.
        executor.spawn(client(1, 1h));
        executor.spawn(client(2, 1h));
        std::uint64_t polls = executor.run_until_idle().polls;  // both submit: 1 and 2
        REQUIRE(device.submitted() == 2);
        const auto complete = [&](rt::Token token) {
            CHECK(device.complete(token));
            polls += executor.run_until_idle().polls;
        };
        complete(2);  // client 2 goes on to its second request, 3
        complete(3);  // and finishes, while client 1 still waits
        CHECK(finished == std::vector<int>{2});
        complete(1);  // client 1 goes on to its second request, 4
        complete(4);
        CHECK(finished == std::vector<int>{2, 1});
        CHECK(executor.pending_tasks() == 0);
        CHECK(polls == 6);  // each task: start, and one poll per completed request
        CHECK(reactor.wakes() == 4);
    }
}
