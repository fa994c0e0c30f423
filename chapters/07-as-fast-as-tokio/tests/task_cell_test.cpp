// Tests of chapter 7's tasks: a spawned coroutine is one allocation, its header in front of its
// frame; tasks of every shape (coroutines with and without arguments, lambdas that capture,
// hand-written futures) still run, throw, abort and shut down as before; what a coroutine or
// an awaited future throws reaches the right co_await, now that it waits in the poll's scope
// rather than in a frame; the JoinHandle's waker, which shares its room with the task's
// exception, is released on every path; and other threads spawn through a Handle.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "support/counted_allocations.hpp"
#include "testing/eventually.hpp"
#include "testing/wakers.hpp"

// Every allocation of this test program is counted, so that a test can say how many a spawn
// made: the blocks the frame pool serves (FramePool::handed_out), and every call of operator
// new. Only the difference across the spawn under test is asserted, never a total.

namespace {

using rt::detail::FramePool;

rt::Task<int> add(int a, int b) {
    co_await rt::yield_now();
    co_return a + b;
}

rt::Task<std::size_t> length_of(std::string text) {  // by value: the frame holds the copy
    co_await rt::yield_now();
    co_return text.size();
}

rt::Task<void> fail_after_a_yield() {
    co_await rt::yield_now();
    throw std::runtime_error("the task failed");
}

/// A future whose first poll asks to be polled again, and whose second poll throws.
struct ThrowsOnSecondPoll {
    using Output = int;
    int polls = 0;
    rt::Poll<int> poll(rt::Context& cx) {
        if (++polls == 1) {
            cx.waker().wake_by_ref();
            return rt::pending;
        }
        throw std::runtime_error("the second poll failed");
    }
};

/// A hand-written future that drives a Task of its own: polled inside the poll of the Task that
/// awaits it, that Task is a root inside another root's poll. It has a constructor, not
/// aggregate initialisation: GCC 12 destroys the members of an aggregate temporary twice when
/// the co_await on it throws (`co_await Aggregate{member_with_destructor}`), and the Task's
/// frame with them.
class Wrapped {
public:
    using Output = int;
    explicit Wrapped(rt::Task<int> task) : task_(std::move(task)) {}
    rt::Poll<int> poll(rt::Context& cx) { return task_.poll(cx); }

private:
    rt::Task<int> task_;
};

rt::Task<int> fail_after_a_yield_with_int() {
    co_await rt::yield_now();
    throw std::runtime_error("the inner task failed");
}

/// Sets its flag when destroyed: shows that a frame's parameters were destroyed.
struct Flag {
    explicit Flag(std::shared_ptr<bool> flag) : flag_(std::move(flag)) {}
    Flag(Flag&&) = default;
    ~Flag() {
        if (flag_) *flag_ = true;
    }
    std::shared_ptr<bool> flag_;
};

/// Waits on a channel nobody sends on, holding `flag` until its frame is destroyed.
rt::Task<void> hold_until_destroyed(Flag flag, rt::sync::oneshot::Receiver<int> never) {
    (void)flag;
    co_await never;
}

/// A receiver that stays pending: its sender lives as long as the test.
struct Never {
    std::pair<rt::sync::oneshot::Sender<int>, rt::sync::oneshot::Receiver<int>> ends =
        rt::sync::oneshot::channel<int>();
    rt::sync::oneshot::Receiver<int> receiver() { return std::move(ends.second); }
};

/// A hand-written future (chapters 1 to 3): ready at its second poll.
struct ReadySecondTime {
    using Output = int;
    int polls = 0;
    rt::Poll<int> poll(rt::Context& cx) {
        if (++polls == 2) return 7;
        cx.waker().wake_by_ref();
        return rt::pending;
    }
};

/// Wakes itself, and has another thread wake it too, within its first poll; ready at its
/// second. A task queued twice would be in two places of an intrusive list at once.
struct WokenTwiceInOnePoll {
    using Output = int;
    int* polls;
    rt::Poll<int> poll(rt::Context& cx) {
        if (++*polls == 2) return *polls;
        cx.waker().wake_by_ref();  // the executor's fast path: a task waking itself
        std::thread other([waker = cx.waker()] { waker.wake_by_ref(); });  // the remote path
        other.join();
        return rt::pending;
    }
};

}  // namespace

TEST_SUITE("waking") {
    TEST_CASE("a task woken by itself and by another thread in one poll is queued once") {
        int polls = 0;
        rt::Executor executor;
        auto handle = executor.spawn(WokenTwiceInOnePoll{&polls});
        const rt::RunStats stats = executor.run();
        CHECK(polls == 2);
        CHECK(stats.polls == 2);
        CHECK(rt::block_on(std::move(handle)) == 2);
    }

    TEST_CASE("a task that yields is polled again after the tasks queued before it") {
        std::vector<int> order;
        rt::Executor executor;
        executor.spawn([&]() -> rt::Task<void> {
            order.push_back(1);
            co_await rt::yield_now();
            order.push_back(3);
        });
        executor.spawn([&]() -> rt::Task<void> {
            order.push_back(2);
            co_return;
        });
        executor.run();
        CHECK(order == std::vector<int>{1, 2, 3});
    }
}

TEST_SUITE("one allocation per task") {
    TEST_CASE("spawning a coroutine allocates nothing beyond its frame") {
        rt::Executor executor;
        rt::Task<int> coroutine = add(2, 3);  // the frame, with the task's room
        const std::size_t blocks = FramePool::handed_out();
        const std::size_t news = support::allocations.load();
        rt::JoinHandle<int> handle = executor.spawn(std::move(coroutine));
        CHECK(FramePool::handed_out() - blocks == 0);
        CHECK(support::allocations.load() - news == 0);
        CHECK(executor.block_on(std::move(handle)) == 5);
    }

    TEST_CASE("spawn(fn, args...) makes the frame only, and the frame keeps its own copies") {
        rt::Executor executor;
        std::string text(40, 'x');  // longer than a std::string holds without allocating
        const std::size_t blocks = FramePool::handed_out();
        const std::size_t news = support::allocations.load();
        rt::JoinHandle<std::size_t> handle = executor.spawn(length_of, text);
        // With the pool, one block: the frame, with the task's room. operator new then makes the
        // frame's copy of the string's characters, and a slab if the pool had to cut a new one;
        // without the pool (AddressSanitizer), the frame and the copy.
        CHECK(FramePool::handed_out() - blocks == (FramePool::enabled ? 1 : 0));
        CHECK(support::allocations.load() - news <= 2);
        text = "changed after the spawn";
        CHECK(executor.block_on(std::move(handle)) == 40);
    }

    TEST_CASE("a lambda that captures still runs, its captures alive while it runs") {
        auto shared = std::make_shared<int>(41);
        const int result = rt::block_on([shared]() -> rt::Task<int> {
            co_await rt::yield_now();
            co_return *shared + 1;
        });
        CHECK(result == 42);
        CHECK(shared.use_count() == 1);  // the task that held the capture is gone
    }

    TEST_CASE("a hand-written future is still spawnable, and its output comes back") {
        rt::Executor executor;
        CHECK(executor.block_on(executor.spawn(ReadySecondTime{})) == 7);
    }

    TEST_CASE("what a spawned coroutine throws comes out of its JoinHandle") {
        rt::Executor executor;
        auto handle = executor.spawn(fail_after_a_yield());
        CHECK_THROWS_WITH_AS(executor.block_on(std::move(handle)), "the task failed",
                             std::runtime_error);
    }

    TEST_CASE("a coroutine aborted while queued is never polled; its parameters are destroyed") {
        auto destroyed = std::make_shared<bool>(false);
        Never never;
        rt::Executor executor;
        auto handle = executor.spawn(hold_until_destroyed(Flag(destroyed), never.receiver()));
        handle.abort();  // before the executor ever ran it
        CHECK_THROWS_AS(executor.block_on(std::move(handle)), rt::TaskAborted);
        CHECK(*destroyed);
    }

    TEST_CASE("a JoinHandle outliving its executor still gives the coroutine's value") {
        rt::JoinHandle<int> handle = [] {
            rt::Executor executor;
            auto spawned = executor.spawn(add(20, 22));
            executor.run();
            return spawned;
        }();
        CHECK(handle.is_finished());
        CHECK(rt::block_on(std::move(handle)) == 42);
    }

    TEST_CASE("an executor destroyed with coroutines pending destroys their frames") {
        auto destroyed = std::make_shared<bool>(false);
        Never never;
        {
            rt::Executor executor;
            executor.spawn(hold_until_destroyed(Flag(destroyed), never.receiver()));
            executor.run_until_idle();
            CHECK_FALSE(*destroyed);
        }
        CHECK(*destroyed);
    }
}

TEST_SUITE("exceptions on their way through the poll's scope") {
    TEST_CASE("an exception thrown in an awaited task is caught by its awaiter, which goes on") {
        const int result = rt::block_on([]() -> rt::Task<int> {
            int caught = 0;
            try {
                co_await fail_after_a_yield();
            } catch (const std::runtime_error&) {
                caught = 1;
            }
            co_return caught * 100 + co_await add(1, 2);
        });
        CHECK(result == 103);
    }

    TEST_CASE("what an awaited future's later poll throws comes out at its co_await") {
        const std::string message = rt::block_on([]() -> rt::Task<std::string> {
            try {
                co_await ThrowsOnSecondPoll{};
            } catch (const std::runtime_error& error) {
                co_return error.what();
            }
            co_return "nothing was thrown";
        });
        CHECK(message == "the second poll failed");
    }

    TEST_CASE("a task polled inside another task's poll keeps its own chain and exceptions") {
        rt::Executor executor;
        auto handle = executor.spawn([]() -> rt::Task<int> {
            int caught = 0;
            try {
                co_await Wrapped(fail_after_a_yield_with_int());
            } catch (const std::runtime_error& error) {
                caught = std::string(error.what()) == "the inner task failed" ? 1 : 2;
            }
            const int inner = co_await Wrapped(add(1, 2));
            co_await rt::yield_now();
            co_return caught * 100 + inner;
        });
        CHECK(executor.block_on(std::move(handle)) == 103);
    }

    TEST_CASE("a task that caught an exception and then waited completes with its value") {
        rt::Executor executor;
        auto handle = executor.spawn([]() -> rt::Task<int> {
            try {
                co_await fail_after_a_yield();
            } catch (const std::runtime_error&) {
            }
            co_await rt::yield_now();  // suspended, with nothing left on its way
            co_return 7;
        });
        CHECK(executor.block_on(std::move(handle)) == 7);
    }
}

TEST_SUITE("the JoinHandle's waker") {
    TEST_CASE("a handle polled and then dropped leaves no waker behind when its task completes") {
        testing::CountingWaker counter;
        rt::Executor executor;
        {
            auto handle = executor.spawn(add(1, 2));
            const rt::Waker waker = counter.waker();
            rt::Context cx(waker);
            CHECK(handle.poll(cx).is_pending());  // the task keeps a clone of the waker
            CHECK(counter.clones() == 1);
        }  // detached, with the clone still in the task
        executor.run();
        CHECK(executor.pending_tasks() == 0);
        CHECK(counter.alive() == 0);  // the clone was dropped, not leaked
        CHECK(counter.wakes() == 0);  // nobody was left to wake
    }

    TEST_CASE("a handle waiting on a task that throws is woken, then gets the exception") {
        testing::CountingWaker counter;
        rt::Executor executor;
        auto handle = executor.spawn(fail_after_a_yield());
        {
            const rt::Waker waker = counter.waker();
            rt::Context cx(waker);
            CHECK(handle.poll(cx).is_pending());
        }
        executor.run();
        CHECK(counter.wakes() == 1);
        CHECK(counter.alive() == 0);
        CHECK(handle.is_finished());
        CHECK_THROWS_WITH_AS(rt::block_on(std::move(handle)), "the task failed",
                             std::runtime_error);
    }

    TEST_CASE("a handle waiting on an aborted task is woken, then gets TaskAborted") {
        testing::CountingWaker counter;
        Never never;
        rt::Executor executor;
        auto handle = executor.spawn(
            hold_until_destroyed(Flag(std::make_shared<bool>(false)), never.receiver()));
        executor.run_until_idle();
        {
            const rt::Waker waker = counter.waker();
            rt::Context cx(waker);
            CHECK(handle.poll(cx).is_pending());
        }
        handle.abort();
        executor.run_until_idle();
        CHECK(counter.wakes() == 1);
        CHECK(counter.alive() == 0);
        CHECK_THROWS_AS(rt::block_on(std::move(handle)), rt::TaskAborted);
    }
}

TEST_SUITE("detached tasks") {
    TEST_CASE("a detached task's output is destroyed when it completes, not kept") {
        auto destroyed = std::make_shared<bool>(false);
        rt::Executor executor;
        executor.spawn(
            [](std::shared_ptr<bool> flag) -> rt::Task<Flag> {
                co_await rt::yield_now();
                co_return Flag(std::move(flag));
            },
            destroyed);  // the JoinHandle is dropped at once
        executor.run();
        CHECK(*destroyed);
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("a task whose JoinHandle is kept still hands its output over") {
        auto destroyed = std::make_shared<bool>(false);
        rt::Executor executor;
        auto handle = executor.spawn(
            [](std::shared_ptr<bool> flag) -> rt::Task<Flag> {
                co_await rt::yield_now();
                co_return Flag(std::move(flag));
            },
            destroyed);
        executor.run();
        CHECK_FALSE(*destroyed);  // kept in the task for the handle
        {
            Flag flag = rt::block_on(std::move(handle));
            CHECK_FALSE(*destroyed);
        }
        CHECK(*destroyed);
    }
}

TEST_SUITE("handle") {
    TEST_CASE("a task spawned through a Handle on another thread runs on the executor") {
        rt::Executor executor;
        rt::Handle handle = executor.handle();
        auto [sender, receiver] = rt::sync::oneshot::channel<std::thread::id>();
        std::thread spawner([handle, sender = std::move(sender)]() mutable {
            handle.spawn([sender = std::move(sender)]() mutable -> rt::Task<void> {
                std::move(sender).send(std::this_thread::get_id());
                co_return;
            });
        });
        // Bounded: a remote spawn that never reached the executor times out, not hangs.
        auto ran_on = executor.block_on(rt::timeout(testing::patience(), std::move(receiver)));
        spawner.join();
        REQUIRE_MESSAGE(ran_on.has_value(), "the task spawned from another thread never ran");
        REQUIRE(ran_on->has_value());
        CHECK(**ran_on == std::this_thread::get_id());
    }

    TEST_CASE("a Handle's JoinHandle gives the value, awaited on the executor") {
        rt::Executor executor;
        rt::Handle handle = executor.handle();
        rt::JoinHandle<int> join = handle.spawn(add(1, 2));  // not running yet: queued remotely
        CHECK(executor.block_on(std::move(join)) == 3);
    }

    TEST_CASE("a spawn through a Handle after the executor is gone gives TaskAborted") {
        std::optional<rt::Handle> handle;
        {
            rt::Executor executor;
            handle.emplace(executor.handle());
        }
        auto destroyed = std::make_shared<bool>(false);
        Never never;
        rt::JoinHandle<void> join =
            handle->spawn(hold_until_destroyed(Flag(destroyed), never.receiver()));
        CHECK(*destroyed);  // the future was destroyed at once: nobody will ever poll it
        CHECK(join.is_finished());
        CHECK_THROWS_AS(rt::block_on(std::move(join)), rt::TaskAborted);
    }

    TEST_CASE("tasks spawned from afar and never collected are destroyed at shutdown") {
        auto destroyed = std::make_shared<bool>(false);
        Never never;
        std::optional<rt::JoinHandle<void>> join;
        {
            rt::Executor executor;
            std::thread spawner([&] {
                join.emplace(executor.handle().spawn(
                    hold_until_destroyed(Flag(destroyed), never.receiver())));
            });
            spawner.join();
        }
        CHECK(*destroyed);
        REQUIRE(join.has_value());
        CHECK_THROWS_AS(rt::block_on(std::move(*join)), rt::TaskAborted);
    }
}
