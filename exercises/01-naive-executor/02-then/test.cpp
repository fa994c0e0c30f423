// Tests of exercise 01-02, the specification of then(a, f): a before f, f exactly once with a's
// output, b polled in the same poll, a destroyed on the way, the waker passed through. Every
// test ends quickly, even against a then that is never ready: polls are bounded.
#include <doctest/doctest.h>

#include <then.hpp>

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

/// What a test can see of one test future (and of all its copies and moved-from shells).
struct Probe {
    int polls = 0;  // polls before and including the one that returned ready
    int alive = 0;  // objects that exist now: constructed minus destroyed
};

/// A test future: pending `pendings` times, waking the waker it was given each time (as a
/// future that can progress at once must), then ready with `value`. A poll after ready fails
/// the test (the Future contract forbids it).
template <class T>
class Countdown {
public:
    using Output = T;

    Countdown(int pendings, T value, std::shared_ptr<Probe> probe)
        : pendings_(pendings), value_(std::move(value)), probe_(std::move(probe)) {
        ++probe_->alive;
    }
    Countdown(Countdown&& other) noexcept
        : pendings_(other.pendings_), value_(std::move(other.value_)), probe_(other.probe_) {
        other.value_.reset();
        ++probe_->alive;
    }
    Countdown& operator=(Countdown&&) = delete;
    ~Countdown() { --probe_->alive; }

    rt::Poll<T> poll(rt::Context& cx) {
        if (!value_.has_value()) {
            FAIL_CHECK("a future was polled after it returned ready");
            return rt::pending;
        }
        if (probe_->polls++ < pendings_) {
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        T value = std::move(*value_);
        value_.reset();  // marks "ready was returned"
        return value;
    }

private:
    int pendings_;
    std::optional<T> value_;  // empty once ready was returned (or moved from)
    std::shared_ptr<Probe> probe_;
};

std::shared_ptr<Probe> new_probe() { return std::make_shared<Probe>(); }

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
/// state it shares with the test. It gives up after max_polls, leaving the slot empty, so a
/// future that is never ready fails the test instead of hanging the executor.
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

/// A function for then() that records its calls and turns an int x into a Countdown of
/// `pendings` pendings whose output is x * 10.
struct TimesTen {
    int pendings;
    std::shared_ptr<Probe> b_probe;
    std::shared_ptr<std::vector<int>> calls;  // the argument of every call

    Countdown<int> operator()(int x) const {
        calls->push_back(x);
        return Countdown<int>(pendings, x * 10, b_probe);
    }
};

TimesTen times_ten(int pendings, std::shared_ptr<Probe> b_probe,
                   std::shared_ptr<std::vector<int>> calls) {
    return TimesTen{pendings, std::move(b_probe), std::move(calls)};
}

using Calls = std::vector<int>;

// The interface: then's output is the output of the future f returns.
static_assert(std::same_as<rt::Then<Countdown<int>, TimesTen>::Output, int>);
static_assert(rt::Future<rt::Then<Countdown<int>, TimesTen>>);

}  // namespace

TEST_SUITE("then") {
    TEST_CASE("the output of then is the output of the future f returns") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto to_text = [b_probe](int x) {
            return Countdown<std::string>(0, "got " + std::to_string(x), b_probe);
        };
        auto future = rt::then(Countdown<int>(0, 5, a_probe), to_text);
        static_assert(std::same_as<decltype(future)::Output, std::string>);
        auto driven = drive(future);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        CHECK(*driven.output == "got 5");
    }

    TEST_CASE("f is not called while the first future is pending") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        auto future = rt::then(Countdown<int>(3, 4, a_probe), times_ten(0, b_probe, calls));
        rt::Waker waker = rt::noop_waker();
        for (int poll = 1; poll <= 3; ++poll) {
            CAPTURE(poll);
            CHECK(testing::poll_once(future, waker).is_pending());
            CHECK(calls->empty());
            CHECK(b_probe->polls == 0);
        }
        rt::Poll<int> last = testing::poll_once(future, waker);
        CHECK(a_probe->polls == 4);
        CHECK(*calls == Calls{4});
        REQUIRE_MESSAGE(last.is_ready(), "then was not ready once both futures were");
        CHECK(last.value() == 40);
    }

    TEST_CASE("f is called exactly once, with the first future's output, however long b takes") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        auto future = rt::then(Countdown<int>(1, 7, a_probe), times_ten(5, b_probe, calls));
        auto driven = drive(future);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        CHECK(*calls == Calls{7});
        CHECK(*driven.output == 70);
    }

    TEST_CASE("the second future is polled in the same poll in which the first becomes ready") {
        SUBCASE("both ready at once: then is ready at its first poll") {
            auto a_probe = new_probe();
            auto b_probe = new_probe();
            auto calls = std::make_shared<Calls>();
            auto future = rt::then(Countdown<int>(0, 1, a_probe), times_ten(0, b_probe, calls));
            auto driven = drive(future);
            REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
            CHECK(driven.polls == 1);
            CHECK(*driven.output == 10);
        }
        SUBCASE("b pending: b had its first poll before then returned pending") {
            auto a_probe = new_probe();
            auto b_probe = new_probe();
            auto calls = std::make_shared<Calls>();
            auto future = rt::then(Countdown<int>(0, 1, a_probe), times_ten(2, b_probe, calls));
            CHECK(testing::poll_once(future).is_pending());
            CHECK(a_probe->polls == 1);
            CHECK(b_probe->polls == 1);
        }
    }

    TEST_CASE("the second future is polled until it is ready and never after") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        auto future = rt::then(Countdown<int>(2, 3, a_probe), times_ten(4, b_probe, calls));
        auto driven = drive(future);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        // a: 3 polls (2 pending, 1 ready); b: 5 polls, the first in a's ready poll.
        CHECK(driven.polls == 3 + 5 - 1);
        CHECK(a_probe->polls == 3);
        CHECK(b_probe->polls == 5);  // a poll after ready would also have failed the test
    }

    TEST_CASE("the first future is destroyed when the machine moves on to the second") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        {
            auto future = rt::then(Countdown<int>(1, 2, a_probe), times_ten(3, b_probe, calls));
            rt::Waker waker = rt::noop_waker();
            CHECK(testing::poll_once(future, waker).is_pending());  // a still pending
            CHECK(a_probe->alive == 1);
            CHECK(b_probe->alive == 0);
            CHECK(testing::poll_once(future, waker).is_pending());  // a ready, b pending
            CHECK_MESSAGE(a_probe->alive == 0, "a is still alive after f was called");
            CHECK(b_probe->alive == 1);
            CHECK(*calls == Calls{2});
        }
        // Destroying the machine mid-way destroys whatever it holds.
        CHECK(a_probe->alive == 0);
        CHECK(b_probe->alive == 0);
    }

    TEST_CASE("the waker then is polled with reaches the first and the second future") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        auto future = rt::then(Countdown<int>(2, 1, a_probe), times_ten(1, b_probe, calls));
        auto driven = drive(future, waker);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        CHECK(counter.wakes() == 2 + 1);  // every pending answer of a and of b woke our waker
    }

    TEST_CASE("an output that can only be moved goes from the first future into f") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto unwrap = [b_probe](std::unique_ptr<int> p) {
            return Countdown<int>(0, *p * 6, b_probe);
        };
        auto future =
            rt::then(Countdown<std::unique_ptr<int>>(1, std::make_unique<int>(7), a_probe), unwrap);
        auto driven = drive(future);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        CHECK(*driven.output == 42);
    }

    TEST_CASE("then of a then runs three steps in order, each changing the type") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto c_probe = new_probe();
        auto log = std::make_shared<std::vector<std::string>>();
        auto twice_as_text = [b_probe, log](int x) {
            log->push_back("f(" + std::to_string(x) + ")");
            return Countdown<std::string>(1, std::to_string(x * 2), b_probe);
        };
        auto length = [c_probe, log](std::string s) {
            log->push_back("g(" + s + ")");
            return Countdown<std::size_t>(1, s.size(), c_probe);
        };
        auto future = rt::then(rt::then(Countdown<int>(1, 50, a_probe), twice_as_text), length);
        static_assert(std::same_as<decltype(future)::Output, std::size_t>);
        auto driven = drive(future);
        REQUIRE_MESSAGE(driven.output.has_value(), "then was never ready");
        CHECK(*log == std::vector<std::string>{"f(50)", "g(100)"});
        CHECK(*driven.output == 3);
        CHECK(driven.polls == 4);  // 1 pending of each of the three futures, then ready
    }

    TEST_CASE("then spawned on the executor hands its output out through shared state") {
        auto a_probe = new_probe();
        auto b_probe = new_probe();
        auto calls = std::make_shared<Calls>();
        auto result = std::make_shared<std::optional<int>>();
        rt::Executor executor;
        executor.spawn(
            Collect(rt::then(Countdown<int>(2, 6, a_probe), times_ten(2, b_probe, calls)), result));
        const rt::RunStats stats = executor.run();
        REQUIRE_MESSAGE(result->has_value(), "then never became ready on the executor");
        CHECK(**result == 60);
        CHECK(stats.polls == 5);
        CHECK(a_probe->alive == 0);  // the executor destroyed the finished task
        CHECK(b_probe->alive == 0);
    }
}
