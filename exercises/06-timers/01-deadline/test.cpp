// Tests of exercise 06-01, the specification of ex::with_deadline: an operation that finishes in
// time gives its value; one that does not is destroyed the moment its deadline passes, with its
// locals, its channel and its own timers; nothing is left registered once the outcome is given.
// Every test ends on its own, even against the starter: the executor is driven by run_bounded
// below, which stops as soon as nothing is left that could wake the test's task. No verdict
// depends on how fast the machine is: an operation meant to finish in time gets an hour, and a
// test that must look at a deadline before it passes makes sure it did.
#include <doctest/doctest.h>

#include <deadline.hpp>

#include <chrono>
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
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/growing_spans.hpp"
#include "testing/lifetimes.hpp"
#include "testing/run_bounded.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

namespace {

// The interface: with_deadline is a future of Outcome<T>, for any future of T.
static_assert(rt::Future<ex::WithDeadline<rt::Task<int>>>);
static_assert(std::same_as<ex::WithDeadline<rt::Task<int>>::Output, ex::Outcome<int>>);
static_assert(std::same_as<ex::WithDeadline<rt::Task<void>>::Output, ex::Outcome<void>>);
static_assert(
    std::same_as<decltype(ex::with_deadline(1s, rt::sleep(1s))), ex::WithDeadline<rt::Sleep>>);

constexpr char stuck[] =
    "the test's task never finished: a with_deadline answered pending and nothing is left that "
    "could wake it (no task ready, no timer registered), or it was still pending after 20 s "
    "(testing::patience())";

/// testing::run_bounded (testing/run_bounded.hpp), with the project's patience as its backstop
/// (testing/eventually.hpp): run the task of `make()` on `executor` until it finishes;
/// std::nullopt when nothing is left that could wake it, or after 20 s.
template <class Make>
auto run_bounded(rt::Executor& executor, Make make) {
    return testing::run_bounded(executor, std::move(make), testing::patience());
}

rt::Task<int> ready_at_once(int value) { co_return value; }

rt::Task<int> sleep_then(std::chrono::milliseconds delay, int value) {
    co_await rt::sleep(delay);
    co_return value;
}

/// Waits for a value that never comes (unless the sender sends), counting its own destruction.
rt::Task<int> wait_for(rt::sync::oneshot::Receiver<int> receiver, std::shared_ptr<int> destroyed) {
    testing::DestructionCounter local(std::move(destroyed));
    const std::optional<int> value = co_await std::move(receiver);
    co_return value.value_or(-1);
}

/// Sleeps for an hour, counting its own destruction.
rt::Task<void> sleep_an_hour(std::shared_ptr<int> destroyed) {
    testing::DestructionCounter local(std::move(destroyed));
    co_await rt::sleep(1h);
}

rt::Task<void> send_later(rt::sync::oneshot::Sender<int> sender, std::chrono::milliseconds delay,
                          int value) {
    co_await rt::sleep(delay);
    std::move(sender).send(value);
}

}  // namespace

TEST_SUITE("deadline: in time") {
    TEST_CASE("an operation that finishes in time gives its value") {
        rt::Executor executor;
        const std::optional<ex::Outcome<int>> outcome =
            run_bounded(executor, []() -> rt::Task<ex::Outcome<int>> {
                co_return co_await ex::with_deadline(1h, sleep_then(10ms, 42));
            });
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        REQUIRE(outcome->completed());
        CHECK_FALSE(outcome->timed_out());
        CHECK(outcome->value() == 42);
    }

    TEST_CASE("once the value is given, the deadline's timer is gone, though the future lives on") {
        rt::Executor executor;
        const std::optional<int> result = run_bounded(executor, [&executor]() -> rt::Task<int> {
            auto guarded = ex::with_deadline(1h, sleep_then(10ms, 7));
            const ex::Outcome<int> outcome = co_await guarded;  // `guarded` is still alive
            CHECK(executor.time_driver().registered() == 0);
            co_return outcome.value_or(-1);
        });
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 7);
    }

    TEST_CASE("an operation ready at once gives its value at the first poll, with no timer") {
        rt::Executor executor;
        const std::optional<int> result = run_bounded(executor, [&executor]() -> rt::Task<int> {
            // By hand, with a counting waker: nothing to wait for, so nothing keeps it.
            testing::CountingWaker waker;
            auto guarded = ex::with_deadline(1h, ready_at_once(5));
            rt::Poll<ex::Outcome<int>> first = testing::poll_once(guarded, waker.waker());
            CHECK(executor.time_driver().registered() == 0);
            CHECK(waker.clones() == 0);
            if (first.is_pending() || first.value().timed_out()) co_return -1;
            // And under co_await, as a task would write it.
            const ex::Outcome<int> awaited = co_await ex::with_deadline(1h, ready_at_once(6));
            CHECK(executor.time_driver().registered() == 0);
            co_return first.value().value() * 10 + awaited.value_or(-1);
        });
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 56);
    }

    TEST_CASE("an operation woken by another task finishes in time") {
        rt::Executor executor;
        const std::optional<ex::Outcome<int>> outcome =
            run_bounded(executor, []() -> rt::Task<ex::Outcome<int>> {
                auto destroyed = std::make_shared<int>(0);
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                rt::spawn(send_later(std::move(sender), 10ms, 99));  // detached
                co_return co_await ex::with_deadline(1h, wait_for(std::move(receiver), destroyed));
            });
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        REQUIRE(outcome->completed());
        CHECK(outcome->value() == 99);
    }

    TEST_CASE("a move-only value is handed over") {
        rt::Executor executor;
        std::optional<std::unique_ptr<std::string>> result =
            run_bounded(executor, []() -> rt::Task<std::unique_ptr<std::string>> {
                auto make = []() -> rt::Task<std::unique_ptr<std::string>> {
                    co_await rt::yield_now();
                    co_return std::make_unique<std::string>("moved, not copied");
                };
                ex::Outcome<std::unique_ptr<std::string>> outcome =
                    co_await ex::with_deadline(1h, make());
                if (!outcome) co_return nullptr;
                co_return std::move(outcome).value();
            });
        REQUIRE_MESSAGE(result.has_value(), stuck);
        REQUIRE(*result != nullptr);
        CHECK(**result == "moved, not copied");
    }
}

TEST_SUITE("deadline: out of time") {
    TEST_CASE("an operation that never finishes times out, and is destroyed at that moment") {
        rt::Executor executor;
        auto destroyed = std::make_shared<int>(0);
        const std::optional<bool> checked = run_bounded(executor, [destroyed]() -> rt::Task<bool> {
            auto [sender, receiver] = rt::sync::oneshot::channel<int>();  // never sent
            const auto start = rt::Clock::now();
            auto guarded = ex::with_deadline(30ms, wait_for(std::move(receiver), destroyed));
            const ex::Outcome<int> outcome = co_await guarded;
            // `guarded` is still alive: whatever is gone was destroyed by the poll itself.
            CHECK(outcome.timed_out());
            CHECK(rt::Clock::now() - start >= 30ms);  // not before the deadline
            CHECK(*destroyed == 1);                   // the operation's local is gone...
            CHECK(sender.is_closed());                // ...and the receiver it awaited
            co_return true;
        });
        REQUIRE_MESSAGE(checked.has_value(), stuck);
        CHECK(*destroyed == 1);  // once, not twice
    }

    TEST_CASE("the timed-out operation's own sleep leaves the wheel") {
        // The limit must not pass before the first poll, or there is no wait to look at: a
        // machine that stalls that long between making the WithDeadline and polling it gets
        // another try, with a longer limit (testing::with_growing_spans).
        const bool in_time = testing::with_growing_spans([](std::chrono::milliseconds limit) {
            rt::Executor executor;
            auto destroyed = std::make_shared<int>(0);
            const std::optional<bool> waited =
                run_bounded(executor, [&executor, destroyed, limit]() -> rt::Task<bool> {
                    const ex::Deadline deadline = ex::Deadline::after(limit);
                    auto guarded = ex::with_deadline(deadline, sleep_an_hour(destroyed));
                    testing::CountingWaker waker;
                    const bool waits = testing::poll_once(guarded, waker.waker()).is_pending();
                    if (!waits && deadline.expired()) co_return false;  // too late to look
                    CHECK_MESSAGE(waits, "the first poll did not wait for a deadline to come");
                    // Two timers now: the operation's hour and the deadline.
                    CHECK(executor.time_driver().registered() == 2);
                    if (!waits) co_return true;
                    const ex::Outcome<void> outcome = co_await guarded;
                    CHECK(outcome.timed_out());
                    CHECK(executor.time_driver().registered() == 0);  // both gone, `guarded` alive
                    CHECK(*destroyed == 1);
                    co_return true;
                });
            REQUIRE_MESSAGE(waited.has_value(), stuck);
            return *waited;
        });
        CHECK_MESSAGE(in_time,
                      "the deadline passed before the first poll in every attempt, "
                      "even 10 s away");
    }

    TEST_CASE("a deadline already passed still lets a ready operation give its value") {
        rt::Executor executor;
        const std::optional<int> result = run_bounded(executor, [&executor]() -> rt::Task<int> {
            const ex::Deadline passed(rt::Clock::now() - 1s);
            auto guarded = ex::with_deadline(passed, ready_at_once(3));
            rt::Poll<ex::Outcome<int>> polled = testing::poll_once(guarded);
            CHECK(executor.time_driver().registered() == 0);
            if (polled.is_pending() || polled.value().timed_out()) co_return -1;
            co_return polled.value().value();
        });
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 3);
    }

    TEST_CASE("a deadline already passed times a pending operation out at its first poll") {
        rt::Executor executor;
        auto destroyed = std::make_shared<int>(0);
        const std::optional<bool> timed_out =
            run_bounded(executor, [&executor, destroyed]() -> rt::Task<bool> {
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                const ex::Deadline passed(rt::Clock::now() - 1s);
                auto guarded = ex::with_deadline(passed, wait_for(std::move(receiver), destroyed));
                testing::CountingWaker waker;
                rt::Poll<ex::Outcome<int>> polled = testing::poll_once(guarded, waker.waker());
                CHECK(executor.time_driver().registered() == 0);  // nothing to wait for
                CHECK(*destroyed == 1);
                CHECK(sender.is_closed());
                CHECK(waker.alive() == 0);  // the receiver's clone of the waker went with it
                co_return polled.is_ready() && polled.value().timed_out();
            });
        REQUIRE_MESSAGE(timed_out.has_value(), stuck);
        CHECK(*timed_out);
    }

    TEST_CASE("attempts that share a deadline get only the time that is left") {
        rt::Executor executor;
        const std::optional<int> result = run_bounded(executor, [&executor]() -> rt::Task<int> {
            auto destroyed = std::make_shared<int>(0);
            const ex::Deadline budget = ex::Deadline::after(40ms);
            CHECK(budget.at_most(1h).at() == budget.at());  // the budget is the sooner
            CHECK(budget.remaining() <= 40ms);
            CHECK_FALSE(ex::Deadline::after(1h).expired());

            // The first attempt uses the whole budget and times out...
            const ex::Outcome<void> first =
                co_await ex::with_deadline(budget.at_most(1h), sleep_an_hour(destroyed));
            CHECK(first.timed_out());
            CHECK(budget.expired());
            CHECK(budget.remaining() == rt::Clock::duration::zero());

            // ...so the second is timed out at its first poll, without a timer.
            auto second = ex::with_deadline(budget.at_most(1h), sleep_an_hour(destroyed));
            rt::Poll<ex::Outcome<void>> polled = testing::poll_once(second);
            CHECK(executor.time_driver().registered() == 0);
            CHECK(*destroyed == 2);
            if (polled.is_pending() || first.completed()) co_return -1;
            co_return polled.value().timed_out() ? 2 : -2;
        });
        REQUIRE_MESSAGE(result.has_value(), stuck);
        CHECK(*result == 2);
    }
}

TEST_SUITE("deadline: exceptions and void") {
    TEST_CASE("an exception from the operation comes out, with nothing of the operation left") {
        rt::Executor executor;
        auto destroyed = std::make_shared<int>(0);
        const std::optional<std::string> caught =
            run_bounded(executor, [&executor, destroyed]() -> rt::Task<std::string> {
                auto failing = [](std::shared_ptr<int> count) -> rt::Task<int> {
                    testing::DestructionCounter local(std::move(count));
                    co_await rt::sleep(10ms);
                    throw std::invalid_argument("inner failure");
                };
                auto guarded = ex::with_deadline(1h, failing(destroyed));
                try {
                    co_await guarded;
                } catch (const std::invalid_argument& error) {
                    // `guarded` is still alive: the poll that threw let everything go.
                    CHECK(*destroyed == 1);
                    CHECK(executor.time_driver().registered() == 0);
                    co_return std::string("caught: ") + error.what();
                }
                co_return "nothing thrown";
            });
        REQUIRE_MESSAGE(caught.has_value(), stuck);
        CHECK(*caught == "caught: inner failure");
    }

    TEST_CASE("an operation that throws at its first poll throws out of the first poll") {
        rt::Executor executor;
        const std::optional<bool> threw = run_bounded(executor, [&executor]() -> rt::Task<bool> {
            auto failing = []() -> rt::Task<int> {
                throw std::runtime_error("at once");
                co_return 0;
            };
            auto guarded = ex::with_deadline(1h, failing());
            bool thrown = false;
            try {
                static_cast<void>(testing::poll_once(guarded));
            } catch (const std::runtime_error& error) {
                thrown = std::string(error.what()) == "at once";
            }
            CHECK(executor.time_driver().registered() == 0);
            co_return thrown;
        });
        REQUIRE_MESSAGE(threw.has_value(), stuck);
        CHECK(*threw);
    }

    TEST_CASE("a void operation that finishes in time reports completion") {
        rt::Executor executor;
        const std::optional<bool> completed =
            run_bounded(executor, [&executor]() -> rt::Task<bool> {
                auto short_nap = []() -> rt::Task<void> { co_await rt::sleep(10ms); };
                const ex::Outcome<void> outcome = co_await ex::with_deadline(1h, short_nap());
                CHECK(executor.time_driver().registered() == 0);
                CHECK_NOTHROW(outcome.value());
                co_return outcome.completed() && static_cast<bool>(outcome);
            });
        REQUIRE_MESSAGE(completed.has_value(), stuck);
        CHECK(*completed);
    }

    TEST_CASE("a timed-out outcome says so, and value() throws DeadlineExceeded") {
        rt::Executor executor;
        const std::optional<bool> checked = run_bounded(executor, []() -> rt::Task<bool> {
            auto destroyed = std::make_shared<int>(0);
            const ex::Outcome<void> nothing =
                co_await ex::with_deadline(20ms, sleep_an_hour(destroyed));
            CHECK(nothing.timed_out());
            CHECK_FALSE(static_cast<bool>(nothing));
            CHECK_THROWS_AS(nothing.value(), ex::DeadlineExceeded);

            auto [sender, receiver] = rt::sync::oneshot::channel<int>();
            const ex::Outcome<int> number =
                co_await ex::with_deadline(20ms, wait_for(std::move(receiver), destroyed));
            CHECK(number.timed_out());
            CHECK(number.value_or(-7) == -7);
            CHECK_THROWS_AS(static_cast<void>(number.value()), ex::DeadlineExceeded);
            co_return nothing.timed_out() && number.timed_out();
        });
        REQUIRE_MESSAGE(checked.has_value(), stuck);
        CHECK(*checked);
    }
}
