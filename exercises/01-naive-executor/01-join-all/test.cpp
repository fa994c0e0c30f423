// Tests of exercise 01-01, the specification of join_all: children run concurrently, each polled
// until ready and never after, outputs in input order. Every test ends quickly, even against a
// join_all that is never ready: futures are polled a bounded number of times.
#include <doctest/doctest.h>

#include <join_all.hpp>

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rt/executor.hpp"
#include "testing/printing.hpp"  // failure messages show vectors element by element
#include "testing/wakers.hpp"

namespace {

/// Polls far beyond what any test needs; reaching it means "never ready".
constexpr int max_polls = 1000;

/// The polls of every test child, in the order they happened: "a0" is child a's first poll.
using PollLog = std::shared_ptr<std::vector<std::string>>;

PollLog new_log() { return std::make_shared<std::vector<std::string>>(); }

/// A child future: pending `pendings` times, then ready with `value`. When pending it wakes the
/// waker it was given, as a future that can progress at once must. It logs every poll, and a
/// poll after it answered ready fails the test (the Future contract forbids it).
template <class T>
class Child {
public:
    using Output = T;

    Child(std::string name, int pendings, T value, PollLog log)
        : name_(std::move(name)),
          pendings_(pendings),
          value_(std::move(value)),
          log_(std::move(log)) {}

    rt::Poll<T> poll(rt::Context& cx) {
        if (!value_.has_value()) {
            FAIL_CHECK("child " << name_ << " was polled after it returned ready");
            return rt::pending;
        }
        log_->push_back(name_ + std::to_string(polls_));
        if (polls_++ < pendings_) {
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        T value = std::move(*value_);
        value_.reset();  // marks "ready was returned"
        return value;
    }

private:
    std::string name_;
    int pendings_;
    std::optional<T> value_;  // empty once ready was returned
    PollLog log_;
    int polls_ = 0;
};

/// What drive() saw: the output if the future became ready, and how many polls it took.
template <class T>
struct Driven {
    std::optional<T> output;
    int polls = 0;
};

/// Poll `future` by hand until it is ready, at most max_polls times.
template <rt::Future F>
Driven<typename F::Output> drive(F& future, const rt::Waker& waker = rt::noop_waker()) {
    Driven<typename F::Output> driven;
    rt::Context cx(waker);
    while (driven.polls < max_polls) {
        ++driven.polls;
        rt::Poll<typename F::Output> polled = future.poll(cx);
        if (polled.is_ready()) {
            driven.output.emplace(std::move(polled).value());
            break;
        }
    }
    return driven;
}

/// A task for rt::Executor that polls `future` until ready and puts its output in `slot`, the
/// state it shares with the test (a task's own output is void). It gives up after max_polls,
/// leaving the slot empty, so a future that is never ready fails the test instead of hanging
/// the executor.
template <rt::Future F>
class Collect {
public:
    using Output = void;
    using Slot = std::shared_ptr<std::optional<typename F::Output>>;

    Collect(F future, Slot slot) : future_(std::move(future)), slot_(std::move(slot)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (polls_++ == max_polls) return rt::ready;  // give up: slot_ stays empty
        rt::Poll<typename F::Output> polled = future_.poll(cx);
        if (polled.is_pending()) return rt::pending;
        slot_->emplace(std::move(polled).value());
        return rt::ready;
    }

private:
    F future_;
    Slot slot_;
    int polls_ = 0;
};

using Strings = std::vector<std::string>;

// The interface: join_all takes a vector of futures and its output is a vector of their outputs.
static_assert(
    std::same_as<decltype(rt::join_all(std::vector<Child<std::string>>{}))::Output, Strings>);
static_assert(rt::Future<rt::JoinAll<Child<int>>>);

}  // namespace

TEST_SUITE("join_all") {
    TEST_CASE("join_all of no futures is ready at the first poll with an empty vector") {
        auto joined = rt::join_all(std::vector<Child<int>>{});
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all of nothing was never ready");
        CHECK(driven.polls == 1);
        CHECK(driven.output->empty());
    }

    TEST_CASE("children that are ready at once make join_all ready at the first poll") {
        auto log = new_log();
        std::vector<Child<int>> children;
        children.emplace_back("a", 0, 10, log);
        children.emplace_back("b", 0, 20, log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        CHECK(driven.polls == 1);
        CHECK(*driven.output == std::vector<int>{10, 20});
        CHECK(*log == Strings{"a0", "b0"});
    }

    TEST_CASE("outputs come back in input order even when later children finish first") {
        auto log = new_log();
        std::vector<Child<std::string>> children;
        children.emplace_back("a", 3, "first", log);   // finishes last
        children.emplace_back("b", 0, "second", log);  // finishes first
        children.emplace_back("c", 1, "third", log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        CHECK(*driven.output == Strings{"first", "second", "third"});
    }

    TEST_CASE("each poll of join_all gives every unfinished child one turn, in input order") {
        auto log = new_log();
        std::vector<Child<int>> children;
        children.emplace_back("a", 2, 1, log);
        children.emplace_back("b", 0, 2, log);
        children.emplace_back("c", 1, 3, log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        // Interleaved: no child runs to completion before the others have had a turn, and b,
        // ready at its first poll, is not polled again.
        CHECK(*log == Strings{"a0", "b0", "c0", "a1", "c1", "a2"});
    }

    TEST_CASE("join_all is pending until its last child is ready, and ready in that same poll") {
        auto log = new_log();
        std::vector<Child<int>> children;
        children.emplace_back("a", 0, 1, log);
        children.emplace_back("b", 4, 2, log);
        auto joined = rt::join_all(std::move(children));
        rt::Waker waker = rt::noop_waker();
        for (int poll = 1; poll <= 4; ++poll) {
            CAPTURE(poll);
            CHECK(testing::poll_once(joined, waker).is_pending());
        }
        rt::Poll<std::vector<int>> last = testing::poll_once(joined, waker);
        REQUIRE_MESSAGE(last.is_ready(),
                        "join_all was not ready in the poll in which its last child was");
        CHECK(last.value() == std::vector<int>{1, 2});
    }

    TEST_CASE("a child is polled until it is ready and never after") {
        auto log = new_log();
        std::vector<Child<int>> children;
        for (int pendings : {3, 0, 5, 1}) children.emplace_back("x", pendings, pendings, log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        CHECK(driven.polls == 6);
        // Each child was polled pendings + 1 times: 4 + 1 + 6 + 2. A poll after ready would
        // also have failed the test inside Child::poll.
        CHECK(log->size() == 13);
        CHECK(*driven.output == std::vector<int>{3, 0, 5, 1});
    }

    TEST_CASE("the waker join_all is polled with reaches its children") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto log = new_log();
        std::vector<Child<int>> children;
        children.emplace_back("a", 1, 1, log);  // wakes once
        children.emplace_back("b", 2, 2, log);  // wakes twice
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined, waker);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        CHECK(counter.wakes() == 3);
    }

    TEST_CASE("outputs that can only be moved are handed over") {
        auto log = new_log();
        std::vector<Child<std::unique_ptr<int>>> children;
        children.emplace_back("a", 1, std::make_unique<int>(7), log);
        children.emplace_back("b", 0, std::make_unique<int>(8), log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        REQUIRE(driven.output->size() == 2);
        REQUIRE((*driven.output)[0] != nullptr);
        REQUIRE((*driven.output)[1] != nullptr);
        CHECK(*(*driven.output)[0] == 7);
        CHECK(*(*driven.output)[1] == 8);
    }

    TEST_CASE("a thousand children of different lengths all finish, outputs in order") {
        auto log = new_log();
        std::vector<Child<int>> children;
        for (int i = 0; i < 1000; ++i) children.emplace_back("t", (1000 - i) % 7, i, log);
        auto joined = rt::join_all(std::move(children));
        auto driven = drive(joined);
        REQUIRE_MESSAGE(driven.output.has_value(), "join_all was never ready");
        CHECK(driven.polls == 7);  // the longest child answers pending 6 times
        REQUIRE(driven.output->size() == 1000);
        for (int i = 0; i < 1000; ++i) {
            if ((*driven.output)[static_cast<std::size_t>(i)] != i) {
                FAIL_CHECK("output " << i << " is "
                                     << (*driven.output)[static_cast<std::size_t>(i)]);
                break;
            }
        }
    }

    TEST_CASE("join_all spawned on the executor hands its outputs out through shared state") {
        auto log = new_log();
        std::vector<Child<int>> children;
        children.emplace_back("a", 2, 1, log);
        children.emplace_back("b", 0, 2, log);
        children.emplace_back("c", 1, 3, log);
        auto result = std::make_shared<std::optional<std::vector<int>>>();
        rt::Executor executor;
        executor.spawn(Collect(rt::join_all(std::move(children)), result));
        const rt::RunStats stats = executor.run();
        REQUIRE_MESSAGE(result->has_value(), "join_all never became ready on the executor");
        CHECK(**result == std::vector<int>{1, 2, 3});
        CHECK(stats.polls == 3);  // one task, polled until its slowest child was ready
        CHECK(*log == Strings{"a0", "b0", "c0", "a1", "c1", "a2"});
    }

    TEST_CASE("several join_alls on one executor run concurrently and keep their own outputs") {
        auto log = new_log();
        std::vector<Child<std::string>> first;
        first.emplace_back("a", 2, "a", log);
        first.emplace_back("b", 0, "b", log);
        std::vector<Child<std::string>> second;
        second.emplace_back("c", 1, "c", log);
        second.emplace_back("d", 0, "d", log);
        auto first_result = std::make_shared<std::optional<Strings>>();
        auto second_result = std::make_shared<std::optional<Strings>>();
        rt::Executor executor;
        executor.spawn(Collect(rt::join_all(std::move(first)), first_result));
        executor.spawn(Collect(rt::join_all(std::move(second)), second_result));
        executor.run();
        REQUIRE_MESSAGE(first_result->has_value(), "the first join_all never became ready");
        REQUIRE_MESSAGE(second_result->has_value(), "the second join_all never became ready");
        CHECK(**first_result == Strings{"a", "b"});
        CHECK(**second_result == Strings{"c", "d"});
        // The executor takes the two tasks in turns; each turn of a task is one turn of each of
        // its unfinished children.
        CHECK(*log == Strings{"a0", "b0", "c0", "d0", "a1", "c1", "a2"});
    }
}
