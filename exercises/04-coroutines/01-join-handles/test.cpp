// Tests of exercise 04-01, the specification of ex::spawn_joinable and ex::Handle: the value or
// the exception of a spawned task reaches its handle, a detached task runs on, and a pending
// handle is woken exactly once, even when the task completes on another thread. Every test ends
// on its own, even against the starter: futures are polled by hand a fixed number of times,
// executors run only until idle, and coroutines run under a block_on that gives up
// (common/include/testing/bounded.hpp) instead of sleeping for ever.
#include <doctest/doctest.h>

#include <joinable.hpp>

#include <concepts>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/bounded.hpp"
#include "testing/wakers.hpp"

using testing::block_on_bounded;

namespace {

// The interface: a handle is a move-only future of the task's output.
static_assert(rt::Future<ex::Handle<int>>);
static_assert(std::same_as<ex::Handle<int>::Output, int>);
static_assert(std::same_as<ex::Handle<void>::Output, void>);
static_assert(std::is_nothrow_move_constructible_v<ex::Handle<int>>);
static_assert(!std::is_copy_constructible_v<ex::Handle<int>>);

constexpr char stuck[] =
    "the coroutine never finished: it awaited a handle that was never ready, or never woken";

rt::Task<int> square_later(int n) {
    co_await rt::yield_now();
    co_return n* n;
}

rt::Task<int> fails_later() {
    co_await rt::yield_now();
    throw std::invalid_argument("bad input");
}

/// Waits for a value on the channel; ready with the value plus one.
rt::Task<int> plus_one_when_sent(rt::sync::oneshot::Receiver<int> receiver) {
    const std::optional<int> value = co_await std::move(receiver);
    co_return value.value_or(-100) + 1;
}

rt::Task<void> set_later(std::shared_ptr<bool> flag) {
    co_await rt::yield_now();
    co_await rt::yield_now();
    *flag = true;
}

rt::Task<std::unique_ptr<std::string>> boxed(std::string text) {
    co_await rt::yield_now();
    co_return std::make_unique<std::string>(std::move(text));
}

/// Awaits `handle` and leaves its value in `seen`.
rt::Task<void> await_into(ex::Handle<int> handle, std::optional<int>& seen) {
    seen = co_await handle;
}

}  // namespace

TEST_SUITE("join handles: the outcome") {
    TEST_CASE("the task's value arrives through the handle") {
        rt::Executor executor;
        ex::Handle<int> handle = ex::spawn_joinable(executor, square_later(7));
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 0);
        rt::Poll<int> polled = testing::poll_once(handle);
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == 49);
    }

    TEST_CASE("a coroutine awaiting the handle gets the task's value") {
        const std::optional<int> result = block_on_bounded([]() -> rt::Task<int> {
            ex::Handle<int> handle = ex::spawn_joinable(square_later(9));  // the current executor
            co_return co_await handle;
        }());
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 81);
    }

    TEST_CASE("the task's exception arrives through the handle, with its type and message") {
        rt::Executor executor;
        ex::Handle<int> handle = ex::spawn_joinable(executor, fails_later());
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 0);  // to the runtime, a task that threw is finished
        CHECK_THROWS_WITH_AS(static_cast<void>(testing::poll_once(handle)), "bad input",
                             std::invalid_argument);
    }

    TEST_CASE("a coroutine awaiting the handle catches the task's exception") {
        const std::optional<std::string> result = block_on_bounded([]() -> rt::Task<std::string> {
            ex::Handle<int> handle = ex::spawn_joinable(fails_later());
            try {
                co_await handle;
            } catch (const std::invalid_argument& error) {
                co_return std::string("caught: ") + error.what();
            }
            co_return "nothing thrown";
        }());
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == "caught: bad input");
    }

    TEST_CASE("a handle awaited after its task finished gives the value at once") {
        rt::Executor executor;
        ex::Handle<int> handle = ex::spawn_joinable(executor, square_later(5));
        CHECK_FALSE(handle.is_finished());
        executor.run_until_idle();
        CHECK(handle.is_finished());
        testing::CountingWaker waker;
        rt::Poll<int> polled = testing::poll_once(handle, waker.waker());
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == 25);
        CHECK(waker.clones() == 0);         // ready at its first poll: no waker was kept
        CHECK_FALSE(handle.is_finished());  // the outcome was taken
    }

    TEST_CASE("a coroutine that awaits a handle late gets the value without waiting") {
        const std::optional<int> result = block_on_bounded([]() -> rt::Task<int> {
            ex::Handle<int> handle = ex::spawn_joinable(square_later(4));
            for (int i = 0; i < 5; ++i) co_await rt::yield_now();  // the task finishes meanwhile
            if (!handle.is_finished()) co_return -1;
            co_return co_await handle;
        }());
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 16);
    }

    TEST_CASE("a handle of a void task says when the task finished") {
        auto flag = std::make_shared<bool>(false);
        rt::Executor executor;
        ex::Handle<void> handle = ex::spawn_joinable(executor, set_later(flag));
        CHECK(testing::poll_once(handle).is_pending());
        executor.run_until_idle();
        CHECK(*flag);
        CHECK(testing::poll_once(handle).is_ready());
    }

    TEST_CASE("a move-only value is handed over") {
        rt::Executor executor;
        ex::Handle<std::unique_ptr<std::string>> handle =
            ex::spawn_joinable(executor, boxed("moved, not copied"));
        executor.run_until_idle();
        rt::Poll<std::unique_ptr<std::string>> polled = testing::poll_once(handle);
        REQUIRE(polled.is_ready());
        REQUIRE(polled.value() != nullptr);
        CHECK(*polled.value() == "moved, not copied");
    }

    TEST_CASE("a dropped handle detaches the task, which still runs to completion") {
        auto flag = std::make_shared<bool>(false);
        rt::Executor executor;
        { ex::Handle<void> dropped = ex::spawn_joinable(executor, set_later(flag)); }
        executor.run_until_idle();
        CHECK(*flag);
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("a coroutine that drops a handle leaves the task running on its own") {
        const std::optional<bool> ran = block_on_bounded([]() -> rt::Task<bool> {
            auto flag = std::make_shared<bool>(false);
            { ex::Handle<void> dropped = ex::spawn_joinable(set_later(flag)); }
            for (int i = 0; i < 5; ++i) co_await rt::yield_now();
            co_return *flag;
        }());
        REQUIRE_MESSAGE(ran.has_value(), stuck);
        CHECK(*ran);
    }

    TEST_CASE("a task destroyed before it finished makes its handle throw rt::TaskAborted") {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        testing::CountingWaker waker;
        std::optional<ex::Handle<int>> handle;
        {
            rt::Executor executor;
            handle.emplace(ex::spawn_joinable(executor, plus_one_when_sent(std::move(receiver))));
            executor.run_until_idle();
            CHECK(testing::poll_once(*handle, waker.waker()).is_pending());
        }  // the executor shuts down: the task's future is destroyed where it waits
        CHECK(sender.is_closed());  // the receiver went with the coroutine's frame
        CHECK(waker.wakes() == 1);  // a waiting handle hears of it
        CHECK(handle->is_finished());
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(*handle)), rt::TaskAborted);
    }

    TEST_CASE("awaiting a handle again after it gave its value is an error") {
        rt::Executor executor;
        ex::Handle<int> handle = ex::spawn_joinable(executor, square_later(3));
        executor.run_until_idle();
        REQUIRE(testing::poll_once(handle).is_ready());
        CHECK_THROWS_AS(static_cast<void>(testing::poll_once(handle)), std::logic_error);
    }
}

TEST_SUITE("join handles: the waker contract") {
    TEST_CASE("a pending handle is woken exactly once, when the value is stored") {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        rt::Executor executor;
        ex::Handle<int> handle =
            ex::spawn_joinable(executor, plus_one_when_sent(std::move(receiver)));
        executor.run_until_idle();
        testing::CountingWaker waker;
        CHECK(testing::poll_once(handle, waker.waker()).is_pending());
        CHECK(waker.alive() == 1);  // the handle keeps one clone
        executor.run_until_idle();
        CHECK(waker.wakes() == 0);  // nothing stored yet: nobody woken

        std::move(sender).send(41);
        CHECK(waker.wakes() == 0);  // the task was woken, not the handle: the value is not stored
        executor.run_until_idle();  // the task completes and stores its value
        CHECK(waker.wakes() == 1);
        CHECK(waker.alive() == 0);  // the clone was used up by the wake
        rt::Poll<int> polled = testing::poll_once(handle, waker.waker());
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == 42);
        CHECK(waker.wakes() == 1);
    }

    TEST_CASE("only the latest waker is woken; the handle keeps no older one") {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        rt::Executor executor;
        ex::Handle<int> handle =
            ex::spawn_joinable(executor, plus_one_when_sent(std::move(receiver)));
        executor.run_until_idle();
        testing::CountingWaker first, second;
        CHECK(testing::poll_once(handle, first.waker()).is_pending());
        CHECK(testing::poll_once(handle, second.waker()).is_pending());  // polled by another task
        CHECK(first.alive() == 0);                                       // replaced, and let go
        std::move(sender).send(1);
        executor.run_until_idle();
        CHECK(first.wakes() == 0);
        CHECK(second.wakes() == 1);
    }

    TEST_CASE("a handle dropped while pending lets its waker go, and the task runs on") {
        auto [sender, receiver] = rt::sync::oneshot::channel<int>();
        rt::Executor executor;
        testing::CountingWaker waker;
        {
            ex::Handle<int> handle =
                ex::spawn_joinable(executor, plus_one_when_sent(std::move(receiver)));
            executor.run_until_idle();
            CHECK(testing::poll_once(handle, waker.waker()).is_pending());
            CHECK(waker.alive() == 1);
        }
        CHECK(waker.alive() == 0);  // a detached task keeps nobody's waker
        CHECK(executor.pending_tasks() == 1);
        std::move(sender).send(1);
        executor.run_until_idle();
        CHECK(executor.pending_tasks() == 0);
        CHECK(waker.wakes() == 0);
    }

    TEST_CASE("a handle polled while its task completes on another thread never misses the wake") {
        // Each round, a thread runs the executor, and so completes the task, while this thread
        // polls the handle: the poll lands before, during or after the completion. Whatever
        // the order, a pending answer must be followed by exactly one wake.
        constexpr int rounds = 300;
        int lost = 0;   // rounds whose pending handle was never woken
        int wrong = 0;  // rounds with a wrong value, or none
        for (int round = 0; round < rounds; ++round) {
            rt::Executor executor;
            ex::Handle<int> handle = ex::spawn_joinable(executor, square_later(round));
            testing::CountingWaker waker;
            std::optional<int> value;
            {
                std::jthread runner([&executor] { executor.run_until_idle(); });
                rt::Poll<int> first = testing::poll_once(handle, waker.waker());
                if (first.is_ready()) value = first.value();
            }  // the runner is joined here: the task has completed
            if (!value) {
                if (waker.wakes() != 1) ++lost;
                rt::Poll<int> second = testing::poll_once(handle, waker.waker());
                if (second.is_ready()) value = second.value();
            }
            if (value != round * round) ++wrong;
            if (waker.alive() != 0) ++lost;  // a waker kept after the outcome was delivered
        }
        CHECK(lost == 0);
        CHECK(wrong == 0);
    }

    TEST_CASE("a task awaiting a handle is woken by a completion on another thread") {
        rt::Executor worker;  // runs on its own thread, below
        ex::Handle<int> handle = ex::spawn_joinable(worker, square_later(6));
        std::optional<int> seen;
        rt::Executor waiting;  // declared after `seen`: its task refers to it
        waiting.spawn(await_into(std::move(handle), seen));
        waiting.run_until_idle();  // the awaiting task polls the handle: pending, waker kept
        CHECK_FALSE(seen.has_value());
        std::jthread runner([&worker] { worker.run_until_idle(); });
        runner.join();  // the task completed there, and woke the awaiting task from there
        waiting.run_until_idle();
        REQUIRE_MESSAGE(seen.has_value(),
                        "the awaiting task was never woken, or never got the value");
        CHECK(*seen == 36);
        CHECK(waiting.pending_tasks() == 0);
    }
}
