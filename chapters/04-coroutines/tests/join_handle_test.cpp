// Tests of spawn, JoinHandle, abort, block_on, rt::spawn from inside a task, and the oneshot
// channel under co_await.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/lifetimes.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

using testing::DestructionCounter;

namespace {

/// Polls `future` and, each time it answers pending (so it has stored its waker, and whoever
/// completes it must wake the task), sets `waiting`: what another thread waits for before it
/// acts, so that its action certainly comes while the task waits, and is what wakes it.
template <rt::Future F>
class Announced {
public:
    using Output = typename F::Output;
    Announced(F future, std::atomic<bool>& waiting)
        : future_(std::move(future)), waiting_(&waiting) {}

    rt::Poll<Output> poll(rt::Context& cx) {
        rt::Poll<Output> polled = future_.poll(cx);
        if (polled.is_pending()) waiting_->store(true);
        return polled;
    }

private:
    F future_;
    std::atomic<bool>* waiting_;  // the test's; outlives the task
};

rt::Task<int> square_later(int n) {
    co_await rt::yield_now();
    co_return n* n;
}

rt::Task<int> fails_later() {
    co_await rt::yield_now();
    throw std::invalid_argument("bad input");
}

/// Waits forever (a oneshot whose sender nobody uses), holding a DestructionCounter.
rt::Task<void> waits_forever(std::shared_ptr<int> destroyed,
                             rt::sync::oneshot::Receiver<int> never) {
    DestructionCounter local(std::move(destroyed));
    co_await std::move(never);
}

}  // namespace

TEST_SUITE("join handles") {
    TEST_CASE("awaiting a join handle gives the task's value") {
        const int result = rt::block_on([]() -> rt::Task<int> {
            rt::JoinHandle<int> handle = rt::spawn(square_later(9));
            co_return co_await handle;
        });
        CHECK(result == 81);
    }

    TEST_CASE("awaiting a join handle rethrows the task's exception, type and message") {
        auto awaiter = []() -> rt::Task<std::string> {
            rt::JoinHandle<int> handle = rt::spawn(fails_later());
            try {
                co_await handle;
            } catch (const std::invalid_argument& error) {
                co_return error.what();
            }
            co_return "no exception";
        };
        CHECK(rt::block_on(awaiter) == "bad input");
    }

    TEST_CASE("a task's exception does not disturb the executor or the other tasks") {
        rt::Executor executor;
        rt::JoinHandle<int> failing = executor.spawn(fails_later());
        rt::JoinHandle<int> fine = executor.spawn(square_later(4));
        executor.run();
        CHECK(failing.is_finished());
        testing::CountingWaker waker;
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(failing, waker.waker())),
                        std::invalid_argument);
        rt::Poll<int> value = testing::poll_once(fine, waker.waker());
        REQUIRE(value.is_ready());
        CHECK(value.value() == 16);
    }

    TEST_CASE("a handle awaited after its task finished gives the value at once") {
        auto main_task = []() -> rt::Task<int> {
            rt::JoinHandle<int> handle = rt::spawn(square_later(5));
            for (int i = 0; i < 5; ++i) co_await rt::yield_now();
            CHECK(handle.is_finished());
            co_return co_await handle;
        };
        CHECK(rt::block_on(main_task) == 25);
    }

    TEST_CASE("a handle pending on a running task is woken once when the task completes") {
        rt::Executor executor;
        rt::JoinHandle<int> handle = executor.spawn(square_later(3));
        testing::CountingWaker waker;
        CHECK(testing::poll_once(handle, waker.waker()).is_pending());
        executor.run();
        CHECK(waker.wakes() == 1);
        rt::Poll<int> value = testing::poll_once(handle, waker.waker());
        REQUIRE(value.is_ready());
        CHECK(value.value() == 9);
    }

    TEST_CASE("a dropped handle detaches the task, which still runs to completion") {
        rt::Executor executor;
        bool ran = false;
        auto detached = [&ran]() -> rt::Task<void> {
            co_await rt::yield_now();
            ran = true;
        };
        { rt::JoinHandle<void> dropped = executor.spawn(detached()); }
        const rt::RunStats stats = executor.run();
        CHECK(ran);
        CHECK(stats.completed == 1);
    }

    TEST_CASE("awaiting a handle a second time is an error, not a second value") {
        auto twice = []() -> rt::Task<void> {
            rt::JoinHandle<int> handle = rt::spawn(square_later(2));
            co_await handle;
            co_await handle;
        };
        CHECK_THROWS_AS(rt::block_on(twice), std::logic_error);
    }
}

TEST_SUITE("abort") {
    TEST_CASE("abort destroys the suspended coroutine's locals and the handle throws TaskAborted") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        rt::Executor executor;
        rt::JoinHandle<void> handle = executor.spawn(waits_forever(destroyed, std::move(receiver)));
        executor.run_until_idle();
        CHECK(*destroyed == 0);
        CHECK_FALSE(handle.is_finished());

        handle.abort();
        executor.run_until_idle();
        CHECK(*destroyed == 1);
        CHECK(executor.pending_tasks() == 0);
        CHECK(sender.is_closed());  // the receiver went with the frame
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(handle)), rt::TaskAborted);
    }

    TEST_CASE("a handle that outlives its executor reports the pending task as aborted") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        std::optional<rt::JoinHandle<void>> handle;
        {
            rt::Executor executor;
            handle.emplace(executor.spawn(waits_forever(destroyed, std::move(receiver))));
            executor.run_until_idle();
        }
        CHECK(*destroyed == 1);
        REQUIRE(handle->is_finished());
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(*handle)), rt::TaskAborted);
    }

    TEST_CASE("a task aborted before its first poll never runs") {
        rt::Executor executor;
        bool ran = false;
        auto body = [&ran]() -> rt::Task<void> {
            ran = true;
            co_return;
        };
        rt::JoinHandle<void> handle = executor.spawn(body());
        handle.abort();
        const rt::RunStats stats = executor.run();
        CHECK_FALSE(ran);
        CHECK(stats.polls == 0);
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(handle)), rt::TaskAborted);
    }

    TEST_CASE("abort after completion changes nothing: the value is still there") {
        rt::Executor executor;
        rt::JoinHandle<int> handle = executor.spawn(square_later(6));
        executor.run();
        handle.abort();
        executor.run_until_idle();
        rt::Poll<int> value = testing::poll_once(handle);
        REQUIRE(value.is_ready());
        CHECK(value.value() == 36);
    }

    TEST_CASE("a task can abort another from inside the executor, and await the result") {
        auto destroyed = std::make_shared<int>(0);
        auto main_task = [destroyed]() -> rt::Task<std::string> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            rt::JoinHandle<void> victim = rt::spawn(waits_forever(destroyed, std::move(receiver)));
            co_await rt::yield_now();  // let the victim start and suspend
            victim.abort();
            try {
                co_await victim;
            } catch (const rt::TaskAborted&) {
                co_return "aborted after " + std::to_string(*destroyed) + " destruction";
            }
            co_return "not aborted";
        };
        CHECK(rt::block_on(main_task) == "aborted after 1 destruction");
    }

    TEST_CASE("abort from another thread cancels a task the executor is waiting on") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        std::atomic<bool> waiting{false};
        rt::Executor executor;
        rt::JoinHandle<void> handle =
            executor.spawn(Announced(waits_forever(destroyed, std::move(receiver)), waiting));
        bool aborted_while_waiting = false;
        std::jthread aborter([&] {
            aborted_while_waiting = testing::eventually([&] { return waiting.load(); });
            handle.abort();  // in any case, so that run() returns
        });
        const rt::RunStats stats = executor.run();  // returns only once the aborted task is gone
        aborter.join();
        CHECK_MESSAGE(aborted_while_waiting, "the task never answered pending to its first poll");
        CHECK(*destroyed == 1);
        CHECK(stats.polls == 1);  // the abort destroyed it: it was never polled again
    }
}

TEST_SUITE("block_on and spawn") {
    TEST_CASE("block_on returns the future's value, and rethrows its exception") {
        CHECK(rt::block_on(square_later(12)) == 144);
        CHECK_THROWS_WITH_AS(rt::block_on(fails_later()), "bad input", std::invalid_argument);
    }

    TEST_CASE("tasks left running when block_on returns are cancelled, their locals destroyed") {
        auto destroyed = std::make_shared<int>(0);
        const int value = rt::block_on([destroyed]() -> rt::Task<int> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            rt::spawn(waits_forever(destroyed, std::move(receiver)));
            co_await rt::yield_now();
            co_return 1;
        });
        CHECK(value == 1);
        CHECK(*destroyed == 1);
    }

    TEST_CASE("rt::spawn outside a running executor is refused with a clear error") {
        CHECK_THROWS_WITH_AS(rt::spawn(square_later(1)),
                             doctest::Contains("needs a running executor"), std::logic_error);
    }

    TEST_CASE("block_on inside a task is refused instead of blocking the executor") {
        auto nested = []() -> rt::Task<int> { co_return rt::block_on(square_later(2)); };
        CHECK_THROWS_AS(rt::block_on(nested), std::logic_error);
    }

    TEST_CASE("a spawned lambda's captures stay alive until its coroutine finishes") {
        // The lambda is a temporary: spawning the coroutine it returns, rather than the lambda,
        // would leave the coroutine reading a destroyed capture after its first suspension.
        const std::string result = rt::block_on([]() -> rt::Task<std::string> {
            rt::JoinHandle<std::string> handle =
                rt::spawn([text = std::string("captured text")]() -> rt::Task<std::string> {
                    co_await rt::yield_now();
                    co_return text;
                });
            co_return co_await handle;
        });
        CHECK(result == "captured text");
    }

    TEST_CASE("tasks sleeping concurrently finish in deadline order, not spawn order") {
        // Deadlines from one start, so their order is certain. The tasks finish in it if every
        // sleep was still pending at its first poll, which the main task checks once the three
        // have had it: a run too slow for that tries a longer step.
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds step) {
            std::vector<int> order;
            const bool registered_in_time = rt::block_on([&order, step]() -> rt::Task<bool> {
                const auto start = rt::Clock::now();
                std::vector<rt::JoinHandle<void>> handles;
                for (int id : {3, 1, 2}) {
                    handles.push_back(rt::spawn([id, start, step, &order]() -> rt::Task<void> {
                        co_await rt::sleep_until(start + id * step);
                        order.push_back(id);
                    }));
                }
                co_await rt::yield_now();  // queued behind the three: they have been polled
                const bool before_first_deadline = rt::Clock::now() < start + step;
                for (auto& handle : handles) co_await handle;
                co_return before_first_deadline;
            });
            CHECK(order.size() == 3);
            if (!registered_in_time) return false;
            CHECK(order == std::vector<int>{1, 2, 3});
            return true;
        });
        CHECK_MESSAGE(in_time,
                      "the three tasks were never all polled before the first "
                      "deadline, even 10 s away");
    }
}

TEST_SUITE("oneshot under co_await") {
    TEST_CASE("a value sent from another task arrives at the awaiting task") {
        const std::optional<std::string> received =
            rt::block_on([]() -> rt::Task<std::optional<std::string>> {
                auto [sender, receiver] = rt::sync::oneshot::channel<std::string>();
                rt::spawn([sender = std::move(sender)]() mutable -> rt::Task<void> {
                    co_await rt::yield_now();
                    std::move(sender).send("over the channel");
                });
                co_return co_await std::move(receiver);
            });
        CHECK(received == "over the channel");
    }

    TEST_CASE("a value sent from another thread wakes the awaiting task") {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        std::atomic<bool> waiting{false};
        bool sent_while_waiting = false;
        std::jthread producer([&, sender = std::move(sender)]() mutable {
            sent_while_waiting = testing::eventually([&] { return waiting.load(); });
            std::move(sender).send(5);  // in any case, so that block_on returns
        });
        CHECK(rt::block_on(Announced(std::move(receiver), waiting)) == 5);
        producer.join();
        CHECK_MESSAGE(sent_while_waiting, "the receiver never answered pending to a poll");
    }

    TEST_CASE("a sender dropped without sending completes the receiver with nothing") {
        const std::optional<int> received = rt::block_on([]() -> rt::Task<std::optional<int>> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            rt::spawn(
                [sender = std::move(sender)]() -> rt::Task<void> { co_await rt::yield_now(); });
            co_return co_await std::move(receiver);
        });
        CHECK_FALSE(received.has_value());
    }
}
