// Tests of what every chapter shares: Poll, Waker and its vtable, the no-op waker, Context,
// the Future concept and boxing.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "rt/future.hpp"
#include "rt/poll.hpp"
#include "rt/waker.hpp"
#include "testing/wakers.hpp"

namespace {

class Answer {
public:
    using Output = int;
    rt::Poll<int> poll(rt::Context&) {
        if (polls_++ == 0) return rt::pending;
        return 42;
    }

private:
    int polls_ = 0;
};

struct NotAFuture {
    int poll(rt::Context&) { return 0; }
};

}  // namespace

static_assert(rt::Future<Answer>);
static_assert(!rt::Future<NotAFuture>);
static_assert(rt::Future<rt::DynFuture<std::string>>);

TEST_SUITE("poll") {
    TEST_CASE("a pending poll holds no value and a ready poll holds its value") {
        rt::Poll<std::string> pending = rt::pending;
        rt::Poll<std::string> ready = std::string("done");
        CHECK(pending.is_pending());
        CHECK_FALSE(pending.is_ready());
        REQUIRE(ready.is_ready());
        CHECK(ready.value() == "done");
        CHECK(std::move(ready).value() == "done");
    }

    TEST_CASE("Poll<void> is either ready or pending") {
        rt::Poll<void> pending = rt::pending;
        rt::Poll<void> ready = rt::ready;
        CHECK(pending.is_pending());
        CHECK(ready.is_ready());
    }
}

TEST_SUITE("waker") {
    TEST_CASE("copying a waker clones it and destroying it drops it") {
        testing::CountingWaker counter;
        {
            rt::Waker first = counter.waker();
            rt::Waker second = first;
            CHECK(counter.clones() == 1);
            CHECK(counter.alive() == 2);
        }
        CHECK(counter.drops() == 2);
        CHECK(counter.alive() == 0);
    }

    TEST_CASE("moving a waker neither clones nor drops") {
        testing::CountingWaker counter;
        rt::Waker first = counter.waker();
        rt::Waker second = std::move(first);
        rt::Waker third = counter.waker();
        third = std::move(second);
        CHECK(counter.clones() == 0);
        CHECK(counter.drops() == 1);  // the waker third held before the assignment
        CHECK(counter.alive() == 1);
    }

    TEST_CASE("wake consumes the waker; wake_by_ref keeps it") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        waker.wake_by_ref();
        waker.wake_by_ref();
        CHECK(counter.wakes() == 2);
        CHECK(counter.alive() == 1);
        std::move(waker).wake();
        CHECK(counter.wakes() == 3);
        CHECK(counter.alive() == 0);
        CHECK(counter.drops() == 0);  // wake released the reference, not drop
    }

    TEST_CASE("will_wake is true for the same waker") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        CHECK(waker.will_wake(waker));
        rt::Waker noop = rt::noop_waker();
        CHECK(noop.will_wake(rt::noop_waker()));
        CHECK_FALSE(noop.will_wake(waker));
    }

    TEST_CASE("a waker can be woken from another thread") {
        testing::CountingWaker counter;
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([w = counter.waker()]() mutable { std::move(w).wake(); });
        }
        for (auto& t : threads) t.join();
        CHECK(counter.wakes() == 4);
        CHECK(counter.alive() == 0);
    }

    TEST_CASE("the no-op waker can be cloned, woken and dropped") {
        rt::Waker waker = rt::noop_waker();
        rt::Waker copy = waker;
        copy.wake_by_ref();
        std::move(copy).wake();
        CHECK(waker.will_wake(rt::noop_waker()));
    }
}

TEST_SUITE("future") {
    TEST_CASE("a boxed future polls the future it holds") {
        rt::BoxFuture<int> boxed = rt::box_future(Answer{});
        CHECK(testing::poll_once(*boxed).is_pending());
        auto second = testing::poll_once(*boxed);
        REQUIRE(second.is_ready());
        CHECK(second.value() == 42);
    }

    TEST_CASE("the context hands the future the executor's waker") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        rt::Context cx(waker);
        CHECK(cx.waker().will_wake(waker));
    }
}
