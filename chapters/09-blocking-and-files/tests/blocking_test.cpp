// Tests of chapter 9's blocking pool (rt/blocking/pool.hpp), through rt::Runtime with 0, 1
// and 2 workers: a call's value and exception come back through its JoinHandle; a worker
// stays free while a call blocks; the pool grows on demand up to its limit and shrinks after
// its keep_alive; shutdown cancels the calls still queued and waits for the running ones.
//
// No verdict depends on speed: a call that must block waits for a gate the test opens, every
// wait is bounded by the project's patience and fails with a message, and the counts are what
// every interleaving must give.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/runtime.hpp"
#include "rt/timeout.hpp"
#include "testing/eventually.hpp"

using namespace std::chrono_literals;

namespace {

/// A gate a blocking call waits at until the test opens it (or the patience runs out: the call
/// then returns, and the test fails on what it checks next).
class Gate {
public:
    /// Block until open; false if the patience ran out first.
    bool wait() {
        std::unique_lock lock(mutex_);
        ++waiting_;
        changed_.notify_all();
        return changed_.wait_for(lock, testing::patience(), [this] { return open_; });
    }
    void open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }
    /// Calls waiting at the gate, or past it.
    int arrived() {
        std::lock_guard lock(mutex_);
        return waiting_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool open_ = false;
    int waiting_ = 0;
};

}  // namespace

TEST_CASE("a blocking call's value comes back to the task that awaits it, on every runtime") {
    for (std::size_t workers : {0, 1, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        const int sum = runtime.block_on([]() -> rt::Task<int> {
            int total = 0;
            for (int i = 0; i < 100; ++i) total += co_await rt::spawn_blocking([i] { return i; });
            co_return total;
        });
        CHECK(sum == 4950);
        // A thread counts a call just after handing its result back: eventually, not at once.
        CHECK(testing::eventually([&] { return runtime.blocking_stats().calls == 100; }));
    }
}

TEST_CASE("an exception thrown by a blocking call comes out of the co_await") {
    rt::Runtime runtime(1);
    const std::string message = runtime.block_on([]() -> rt::Task<std::string> {
        try {
            co_await rt::spawn_blocking([]() -> int { throw std::runtime_error("disk on fire"); });
        } catch (const std::runtime_error& error) {
            co_return error.what();
        }
        co_return "nothing thrown";
    });
    CHECK(message == "disk on fire");
}

TEST_CASE("a call from outside the runtime runs on the pool, and its handle can be awaited") {
    rt::Runtime runtime(2);
    auto handle = runtime.spawn_blocking([] { return std::this_thread::get_id(); });
    const auto pool_thread = runtime.block_on(
        [&]() -> rt::Task<std::thread::id> { co_return co_await std::move(handle); });
    CHECK(pool_thread != std::this_thread::get_id());
}

TEST_CASE("a worker runs other tasks while a blocking call on its behalf waits") {
    // One worker. The call blocks until a task opens its gate: if the call ran on the worker,
    // the task could never run, and the call would give up after the patience.
    for (std::size_t workers : {0, 1}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        Gate gate;
        const bool opened = runtime.block_on([&]() -> rt::Task<bool> {
            auto call = rt::spawn_blocking([&] { return gate.wait(); });
            auto opener = rt::spawn([&]() -> rt::Task<void> {
                gate.open();
                co_return;
            });
            co_await std::move(opener);
            co_return co_await std::move(call);
        });
        CHECK_MESSAGE(opened, "the blocking call was never released: it blocked the worker");
    }
}

TEST_CASE("the pool grows up to max_threads, and more calls wait for a free thread") {
    rt::BlockingOptions options;
    options.max_threads = 2;
    rt::Runtime runtime(1, rt::Scheduling::work_stealing, options);
    Gate gate;
    std::vector<rt::JoinHandle<bool>> calls;
    for (int i = 0; i < 5; ++i)
        calls.push_back(runtime.spawn_blocking([&] { return gate.wait(); }));
    REQUIRE_MESSAGE(testing::eventually([&] { return gate.arrived() == 2; }),
                    "two calls should be running, blocked at the gate");
    const rt::BlockingStats busy = runtime.blocking_stats();
    CHECK(busy.threads == 2);
    CHECK(busy.queued == 3);
    CHECK(gate.arrived() == 2);  // the other three wait in the queue, not in a thread
    gate.open();
    const int released = runtime.block_on([&]() -> rt::Task<int> {
        int count = 0;
        for (auto& call : calls) count += (co_await std::move(call)) ? 1 : 0;
        co_return count;
    });
    CHECK(released == 5);
    CHECK(runtime.blocking_stats().started == 2);
}

TEST_CASE("calls that block run side by side: none waits in the queue behind another") {
    // Eight calls, pushed at once, each blocked until all eight have arrived at the gate: the
    // pool must give every one a thread while the others block (a pool that woke only one
    // thread for the burst would leave seven queued behind it, and the gate would never open).
    constexpr int n = 8;
    rt::Runtime runtime(1);
    Gate gate;
    std::vector<rt::JoinHandle<bool>> calls;
    for (int i = 0; i < n; ++i)
        calls.push_back(runtime.spawn_blocking([&] { return gate.wait(); }));
    REQUIRE_MESSAGE(testing::eventually([&] { return gate.arrived() == n; }), "only ",
                    gate.arrived(), " of ", n, " calls ever ran at once");
    CHECK(runtime.blocking_stats().threads == n);
    gate.open();
    const int released = runtime.block_on([&]() -> rt::Task<int> {
        int count = 0;
        for (auto& call : calls) count += (co_await std::move(call)) ? 1 : 0;
        co_return count;
    });
    CHECK(released == n);
}

TEST_CASE("an idle thread ends after keep_alive, and a new call starts a new one") {
    rt::BlockingOptions options;
    options.keep_alive = 20ms;
    rt::Runtime runtime(1, rt::Scheduling::work_stealing, options);
    runtime.block_on([]() -> rt::Task<void> { co_await rt::spawn_blocking([] {}); });
    REQUIRE_MESSAGE(testing::eventually([&] { return runtime.blocking_stats().threads == 0; }),
                    "the idle thread never ended");
    CHECK(runtime.blocking_stats().ended == 1);
    const int value = runtime.block_on(
        []() -> rt::Task<int> { co_return co_await rt::spawn_blocking([] { return 7; }); });
    CHECK(value == 7);
    CHECK(runtime.blocking_stats().started == 2);
}

TEST_CASE("an idle thread is reused: calls one after another need one thread") {
    // Each call is made once the thread of the one before counts itself idle: it has woken the
    // awaiting task as its last act in the call, and counts itself idle a moment later, so a
    // call made right after the wake may find no idle thread and start a second one.
    rt::Runtime runtime(0);
    for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        runtime.block_on([]() -> rt::Task<void> { co_await rt::spawn_blocking([] {}); });
        REQUIRE_MESSAGE(testing::eventually([&] { return runtime.blocking_stats().idle == 1; }),
                        "the pool's thread never became idle");
    }
    CHECK(runtime.blocking_stats().started == 1);
    CHECK(runtime.blocking_stats().calls == 20);
}

TEST_CASE("shutdown waits for a running call and cancels the queued ones") {
    rt::BlockingOptions options;
    options.max_threads = 1;
    Gate gate;
    std::atomic<bool> queued_ran{false};
    std::optional<rt::JoinHandle<bool>> running;
    std::optional<rt::JoinHandle<void>> queued;
    std::atomic<bool> destroyed{false};
    std::thread closer;
    {
        auto runtime = std::make_unique<rt::Runtime>(1, rt::Scheduling::work_stealing, options);
        running = runtime->spawn_blocking([&] { return gate.wait(); });
        queued = runtime->spawn_blocking([&] { queued_ran = true; });
        REQUIRE(testing::eventually([&] { return gate.arrived() == 1; }));
        // Destroy the runtime on another thread: it must wait for the running call.
        closer = std::thread([&, runtime = std::move(runtime)]() mutable {
            runtime.reset();
            destroyed = true;
        });
    }
    // The destructor cannot return while the call is blocked; the gate opens only after the
    // destructor has begun to wait, whatever the speed: the queued call's handle completes
    // (cancelled) during the shutdown, before the running call returns.
    REQUIRE_MESSAGE(testing::eventually([&] { return queued->is_finished(); }),
                    "shutdown did not cancel the queued call");
    CHECK_FALSE(destroyed.load());
    CHECK_FALSE(running->is_finished());
    gate.open();
    closer.join();
    CHECK(destroyed.load());
    CHECK_FALSE(queued_ran.load());
    // Both handles outlive the runtime, and can still be polled for their outcomes.
    rt::Waker waker = rt::noop_waker();
    rt::Context cx(waker);
    auto value = running->poll(cx);
    REQUIRE(value.is_ready());
    CHECK(value.value() == true);
    CHECK_THROWS_AS((void)queued->poll(cx), rt::TaskAborted);
}

TEST_CASE("many tasks on many workers hand many calls to the pool, and get every result") {
    rt::Runtime runtime(2);
    constexpr int tasks = 64;
    constexpr int calls = 50;
    const long total = runtime.block_on([]() -> rt::Task<long> {
        std::vector<rt::JoinHandle<long>> handles;
        for (int t = 0; t < tasks; ++t) {
            handles.push_back(rt::spawn([t]() -> rt::Task<long> {
                long sum = 0;
                for (int c = 0; c < calls; ++c) {
                    sum += co_await rt::spawn_blocking([t, c] { return long{t} * calls + c; });
                }
                co_return sum;
            }));
        }
        long sum = 0;
        for (auto& handle : handles) sum += co_await std::move(handle);
        co_return sum;
    });
    const long n = long{tasks} * calls;
    CHECK(total == n * (n - 1) / 2);
}
