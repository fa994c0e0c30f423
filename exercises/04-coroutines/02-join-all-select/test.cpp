// Tests of exercise 04-02, the specification of ex::join_all and ex::select over rt::Task:
// join_all gives every value in input order; select gives the first value and destroys the
// loser at once (its locals' destructors run, its sleep lets go of the waker); a task's
// exception comes out of both. Every test ends on its own, even against the starter: futures
// are polled by hand a fixed number of times, and coroutines run under a block_on that gives
// up (common/include/testing/bounded.hpp) instead of sleeping for ever. No test measures time.
#include <doctest/doctest.h>

#include <join_all.hpp>
#include <select.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "testing/bounded.hpp"
#include "testing/lifetimes.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
namespace oneshot = rt::sync::oneshot;

using testing::block_on_bounded;
using testing::DestructionCounter;

namespace {

// The interface: both are futures, of a vector and of a variant.
static_assert(rt::Future<ex::JoinAll<int>>);
static_assert(std::same_as<ex::JoinAll<int>::Output, std::vector<int>>);
static_assert(rt::Future<ex::Select<int, std::string>>);
static_assert(std::same_as<ex::Select<int, std::string>::Output, std::variant<int, std::string>>);

constexpr char stuck[] =
    "the coroutine never finished: join_all or select was never ready, or never woken";

/// A future that is pending at its first `pendings` polls (asking at once to be polled again)
/// and ready at the next; logs every poll as its name and the poll's number: "a0", "a1", ...
class Steps {
public:
    using Output = void;
    Steps(std::string name, int pendings, std::vector<std::string>& log)
        : name_(std::move(name)), pendings_(pendings), log_(&log) {}

    rt::Poll<void> poll(rt::Context& cx) {
        log_->push_back(name_ + std::to_string(polls_++));
        if (polls_ > pendings_) return rt::ready;
        cx.waker().wake_by_ref();
        return rt::pending;
    }

private:
    std::string name_;
    int pendings_;
    int polls_ = 0;
    std::vector<std::string>* log_;
};

rt::Task<int> logged(std::string name, int pendings, int value, std::vector<std::string>& log) {
    co_await Steps(std::move(name), pendings, log);
    co_return value;
}

rt::Task<int> ready_now(int value) { co_return value; }

/// Yields `yields` times, then notes in `finished` that it finished, and gives `value`.
rt::Task<int> after_yields(int value, int yields, std::vector<int>& finished) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    finished.push_back(value);
    co_return value;
}

/// Waits for a value on the channel, notes it in `finished`, and gives it.
rt::Task<int> when_sent(oneshot::Receiver<int> receiver, std::vector<int>& finished) {
    const std::optional<int> value = co_await std::move(receiver);
    finished.push_back(value.value_or(-1));
    co_return value.value_or(-1);
}

rt::Task<int> fails_later() {
    co_await rt::yield_now();
    throw std::invalid_argument("bad input");
}

/// Waits on a channel nobody sends on, with a local that counts its destruction.
rt::Task<int> waits_forever(std::shared_ptr<int> destroyed, oneshot::Receiver<int> never) {
    DestructionCounter local(std::move(destroyed));
    co_await std::move(never);
    co_return -1;
}

/// Sleeps for an hour, with a local that counts its destruction.
rt::Task<int> sleeps_an_hour(std::shared_ptr<int> destroyed) {
    DestructionCounter local(std::move(destroyed));
    co_await rt::sleep(1h);
    co_return -1;
}

/// A chain of two frames with a local each, the inner one asleep for an hour.
rt::Task<int> awaits_a_sleeper(std::shared_ptr<int> destroyed) {
    DestructionCounter local(destroyed);
    co_return co_await sleeps_an_hour(destroyed) + 1;
}

rt::Task<std::unique_ptr<int>> boxed(int value) {
    co_await rt::yield_now();
    co_return std::make_unique<int>(value);
}

}  // namespace

TEST_SUITE("join_all") {
    TEST_CASE("join_all of an empty vector is ready at its first poll, with no values") {
        ex::JoinAll<int> all = ex::join_all(std::vector<rt::Task<int>>{});
        rt::Poll<std::vector<int>> polled = testing::poll_once(all);
        REQUIRE(polled.is_ready());
        CHECK(polled.value().empty());
    }

    TEST_CASE("join_all gives the values in input order, whatever order the tasks finish in") {
        std::vector<int> finished;
        auto [sender0, receiver0] = oneshot::channel<int>();
        auto [sender1, receiver1] = oneshot::channel<int>();
        auto [sender2, receiver2] = oneshot::channel<int>();
        std::vector<rt::Task<int>> tasks;
        tasks.push_back(when_sent(std::move(receiver0), finished));
        tasks.push_back(when_sent(std::move(receiver1), finished));
        tasks.push_back(when_sent(std::move(receiver2), finished));
        ex::JoinAll<int> all = ex::join_all(std::move(tasks));
        testing::CountingWaker waker;

        CHECK(testing::poll_once(all, waker.waker()).is_pending());
        std::move(sender2).send(30);
        CHECK(waker.wakes() == 1);  // the waker join_all was polled with reached the task
        CHECK(testing::poll_once(all, waker.waker()).is_pending());
        std::move(sender0).send(10);
        CHECK(testing::poll_once(all, waker.waker()).is_pending());
        std::move(sender1).send(20);
        CHECK(waker.wakes() == 3);
        rt::Poll<std::vector<int>> polled = testing::poll_once(all, waker.waker());
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == std::vector<int>{10, 20, 30});
        CHECK(finished == std::vector<int>{30, 10, 20});
    }

    TEST_CASE("a poll gives each unfinished task one turn, in order; a finished task gets none") {
        std::vector<std::string> log;
        std::vector<rt::Task<int>> tasks;
        tasks.push_back(logged("a", 2, 1, log));  // ready at its third poll
        tasks.push_back(logged("b", 0, 2, log));  // ready at its first
        tasks.push_back(logged("c", 1, 3, log));  // ready at its second
        ex::JoinAll<int> all = ex::join_all(std::move(tasks));
        int ready_at = 0;
        std::vector<int> values;
        for (int poll = 1; poll <= 5 && ready_at == 0; ++poll) {
            rt::Poll<std::vector<int>> polled = testing::poll_once(all);
            if (polled.is_ready()) {
                ready_at = poll;
                values = std::move(polled).value();
            }
        }
        CHECK(log == std::vector<std::string>{"a0", "b0", "c0", "a1", "c1", "a2"});
        CHECK(ready_at == 3);  // ready in the same poll as its last task
        CHECK(values == std::vector<int>{1, 2, 3});
    }

    TEST_CASE("a coroutine awaiting join_all gets the values in input order") {
        std::vector<int> finished;
        const std::optional<std::vector<int>> values =
            block_on_bounded([](std::vector<int>& finished) -> rt::Task<std::vector<int>> {
                std::vector<rt::Task<int>> tasks;
                const int yields[] = {3, 0, 2, 1};
                for (int i = 0; i < 4; ++i) tasks.push_back(after_yields(i, yields[i], finished));
                co_return co_await ex::join_all(std::move(tasks));
            }(finished));
        REQUIRE_MESSAGE(values.has_value(), stuck);
        CHECK(*values == std::vector<int>{0, 1, 2, 3});
        CHECK(finished == std::vector<int>{1, 3, 2, 0});
    }

    TEST_CASE("move-only values are collected") {
        std::vector<rt::Task<std::unique_ptr<int>>> tasks;
        tasks.push_back(boxed(4));
        tasks.push_back(boxed(5));
        ex::JoinAll<std::unique_ptr<int>> all = ex::join_all(std::move(tasks));
        CHECK(testing::poll_once(all).is_pending());
        rt::Poll<std::vector<std::unique_ptr<int>>> polled = testing::poll_once(all);
        REQUIRE(polled.is_ready());
        REQUIRE(polled.value().size() == 2);
        REQUIRE(polled.value()[0] != nullptr);
        REQUIRE(polled.value()[1] != nullptr);
        CHECK(*polled.value()[0] == 4);
        CHECK(*polled.value()[1] == 5);
    }

    TEST_CASE("a task's exception comes out of join_all, and the other tasks are destroyed") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = oneshot::channel<int>();
        std::vector<rt::Task<int>> tasks;
        tasks.push_back(waits_forever(destroyed, std::move(receiver)));
        tasks.push_back(fails_later());
        ex::JoinAll<int> all = ex::join_all(std::move(tasks));
        CHECK(testing::poll_once(all).is_pending());
        CHECK_THROWS_WITH_AS(static_cast<void>(testing::poll_once(all)), "bad input",
                             std::invalid_argument);
        CHECK(*destroyed == 1);  // at once, while join_all itself still exists
        CHECK(sender.is_closed());
    }

    TEST_CASE("a coroutine awaiting join_all catches a task's exception") {
        const std::optional<std::string> caught = block_on_bounded([]() -> rt::Task<std::string> {
            std::vector<rt::Task<int>> tasks;
            tasks.push_back(ready_now(1));
            tasks.push_back(fails_later());
            try {
                co_await ex::join_all(std::move(tasks));
            } catch (const std::invalid_argument& error) {
                co_return std::string("caught: ") + error.what();
            }
            co_return "nothing thrown";
        }());
        REQUIRE_MESSAGE(caught.has_value(), stuck);
        CHECK(*caught == "caught: bad input");
    }
}

TEST_SUITE("select") {
    TEST_CASE("select gives the value of the task that finishes first, and its index") {
        std::vector<int> finished;
        auto [sender_a, receiver_a] = oneshot::channel<int>();
        auto [sender_b, receiver_b] = oneshot::channel<int>();
        ex::Select<int, int> race = ex::select(when_sent(std::move(receiver_a), finished),
                                               when_sent(std::move(receiver_b), finished));
        testing::CountingWaker waker;
        CHECK(testing::poll_once(race, waker.waker()).is_pending());
        std::move(sender_b).send(5);
        CHECK(waker.wakes() == 1);  // the waker select was polled with reached the task
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(race, waker.waker());
        REQUIRE(polled.is_ready());
        CHECK(polled.value().index() == 1);  // the second task won: same type, told by index
        CHECK(std::get<1>(polled.value()) == 5);
        CHECK(finished == std::vector<int>{5});
        CHECK(sender_a.is_closed());  // the loser's receiver went with its frame
    }

    TEST_CASE("a task ready at the first poll wins at once; when both are, the first one does") {
        auto [sender, receiver] = oneshot::channel<int>();
        auto destroyed = std::make_shared<int>(0);
        ex::Select<int, int> second_wins =
            ex::select(waits_forever(destroyed, std::move(receiver)), ready_now(2));
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(second_wins);
        REQUIRE(polled.is_ready());
        CHECK(polled.value().index() == 1);
        CHECK(std::get<1>(polled.value()) == 2);

        ex::Select<int, std::string> first_wins =
            ex::select(ready_now(1), []() -> rt::Task<std::string> { co_return "second"; }());
        rt::Poll<std::variant<int, std::string>> both = testing::poll_once(first_wins);
        REQUIRE(both.is_ready());
        CHECK(both.value().index() == 0);
        CHECK(std::get<0>(both.value()) == 1);
    }

    TEST_CASE("the loser's locals are destroyed as soon as select completes") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = oneshot::channel<int>();
        std::vector<int> finished;
        ex::Select<int, int> race =
            ex::select(waits_forever(destroyed, std::move(receiver)), after_yields(7, 1, finished));
        CHECK(testing::poll_once(race).is_pending());
        CHECK(*destroyed == 0);
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(race);
        REQUIRE(polled.is_ready());
        CHECK(std::get<1>(polled.value()) == 7);
        CHECK(*destroyed == 1);  // right away, while `race` itself still exists
        CHECK(sender.is_closed());
    }

    TEST_CASE("a loser given second is destroyed as soon as the first task wins") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = oneshot::channel<int>();
        std::vector<int> finished;
        ex::Select<int, int> race =
            ex::select(after_yields(8, 1, finished), waits_forever(destroyed, std::move(receiver)));
        CHECK(testing::poll_once(race).is_pending());
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(race);
        REQUIRE(polled.is_ready());
        CHECK(polled.value().index() == 0);
        CHECK(std::get<0>(polled.value()) == 8);
        CHECK(*destroyed == 1);
        CHECK(sender.is_closed());
    }

    TEST_CASE("a loser suspended in a chain of awaits is destroyed frame by frame") {
        auto destroyed = std::make_shared<int>(0);
        std::vector<int> finished;
        ex::Select<int, int> race =
            ex::select(awaits_a_sleeper(destroyed), after_yields(3, 2, finished));
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(race);
        for (int poll = 1; poll < 4 && polled.is_pending(); ++poll) {
            polled = testing::poll_once(race);
        }
        REQUIRE(polled.is_ready());
        CHECK(polled.value().index() == 1);
        CHECK(*destroyed == 2);  // the outer frame's local and the sleeping frame's
    }

    TEST_CASE("the loser's sleep no longer keeps a waker once select completes") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = oneshot::channel<int>();
        std::vector<int> finished;
        ex::Select<int, int> race =
            ex::select(sleeps_an_hour(destroyed), when_sent(std::move(receiver), finished));
        testing::CountingWaker waker;
        CHECK(testing::poll_once(race, waker.waker()).is_pending());
        CHECK(waker.alive() == 2);  // one clone in the sleep, one in the channel
        std::move(sender).send(9);
        CHECK(waker.alive() == 1);  // the channel's was used up by its wake: the sleep's is left
        rt::Poll<std::variant<int, int>> polled = testing::poll_once(race, waker.waker());
        REQUIRE(polled.is_ready());
        CHECK(std::get<1>(polled.value()) == 9);
        CHECK(waker.alive() == 0);  // the sleep was destroyed, and let its waker go
        CHECK(*destroyed == 1);
    }

    TEST_CASE("a task's exception comes out of select, and the other task is destroyed") {
        auto destroyed = std::make_shared<int>(0);
        auto [sender, receiver] = oneshot::channel<int>();
        ex::Select<int, int> race =
            ex::select(waits_forever(destroyed, std::move(receiver)), fails_later());
        CHECK(testing::poll_once(race).is_pending());
        CHECK_THROWS_WITH_AS(static_cast<void>(testing::poll_once(race)), "bad input",
                             std::invalid_argument);
        CHECK(*destroyed == 1);
        CHECK(sender.is_closed());
    }

    TEST_CASE("a coroutine awaiting select finds the loser destroyed when the await returns") {
        auto destroyed = std::make_shared<int>(0);
        std::vector<int> finished;
        const std::optional<std::pair<std::size_t, int>> seen = block_on_bounded(
            [](std::shared_ptr<int> destroyed,
               std::vector<int>& finished) -> rt::Task<std::pair<std::size_t, int>> {
                ex::Select<int, int> race =
                    ex::select(sleeps_an_hour(destroyed), after_yields(4, 3, finished));
                const std::variant<int, int> winner = co_await race;  // `race` lives on
                co_return std::pair<std::size_t, int>(winner.index(), *destroyed);
            }(destroyed, finished));
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        CHECK(seen->first == 1);
        CHECK(seen->second == 1);  // destroyed before the co_await returned
    }
}
