// Test helpers for stages with timers in the runtime (chapter 6 on): run a coroutine on an
// executor driven by hand, which gives up instead of hanging when the coroutine can never
// finish (pending, with no task ready and no timer registered). Include it with the stage's
// own rt/ headers first on the include path.
#pragma once

#include <chrono>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sleep.hpp"

namespace testing {

/// The task of `make()`, with `make` kept alive in the task's own frame (a coroutine keeps its
/// parameters there) for as long as that task runs: the way to spawn a coroutine lambda that
/// captures, whose captures live in the lambda object and not in the coroutine (what
/// Executor::spawn(make) does with a wrapper future, here with a coroutine).
template <class Make, class T = typename std::invoke_result_t<Make&>::Output>
rt::Task<T> keep_alive(Make make) {
    co_return co_await make();
}

/// Spawn keep_alive(make) on `executor`, run it until it finishes, and give its value (or
/// rethrow what it threw). The executor is driven by hand and never sleeps: run what is ready
/// and fire the timers that are due (run_until_idle does both), nap a millisecond, again.
/// std::nullopt when the task can never finish: it is pending, no task is ready and no timer is
/// registered, so nothing could ever wake it; or after `limit`, a backstop that a correct
/// solution never comes near. The helper registers no timer of its own, so registered() counts
/// only the test's.
template <class Make, class T = typename std::invoke_result_t<Make&>::Output>
std::optional<T> run_bounded(rt::Executor& executor, Make make,
                             std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    rt::JoinHandle<T> handle = executor.spawn(keep_alive(std::move(make)));
    const auto give_up = rt::Clock::now() + limit;
    for (;;) {
        executor.run_until_idle();
        if (handle.is_finished()) break;
        if (executor.time_driver().registered() == 0) return std::nullopt;  // nothing can wake it
        if (rt::Clock::now() >= give_up) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    rt::Waker waker = rt::noop_waker();
    rt::Context cx(waker);
    rt::Poll<T> outcome = handle.poll(cx);  // finished: ready, or rethrows
    return std::optional<T>(std::move(outcome).value());
}

}  // namespace testing
