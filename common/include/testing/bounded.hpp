// A test helper for stages with coroutines (chapter 4 on): block_on_bounded runs a Task the way
// rt::block_on does, but gives up instead of waiting for ever when the Task is stuck, so that a
// test of unfinished code (an exercise's starter) fails with a message instead of hanging.
// Include it with the stage's own rt/ headers first on the include path.
#pragma once

#include <optional>
#include <utility>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"

namespace testing {

/// The future block_on_bounded runs: it polls `body` and, while the body is pending, asks to
/// be polled again at once (as yield_now does), so the executor never sleeps and every other
/// task gets a turn between two polls. Meant for tests where every wake comes from the
/// executor's own thread: a body still pending after `turns` turns has lost a wake, and the
/// future answers std::nullopt then.
template <class T>
class Bounded {
public:
    using Output = std::optional<T>;
    Bounded(rt::Task<T> body, int turns) : body_(std::move(body)), turns_left_(turns) {}

    rt::Poll<std::optional<T>> poll(rt::Context& cx) {
        rt::Poll<T> polled = body_.poll(cx);
        if (polled.is_ready()) return std::optional<T>(std::move(polled).value());
        if (--turns_left_ <= 0) return std::optional<T>();  // stuck: give up
        cx.waker().wake_by_ref();
        return rt::pending;
    }

private:
    rt::Task<T> body_;  // the coroutine under test, polled as a root
    int turns_left_;    // polls left before the body counts as stuck
};

/// rt::block_on(body), except that a body still pending after `turns` turns gives
/// std::nullopt. A thousand suit tasks that only yield; moving megabytes through sockets
/// takes about a thousand turns, so socket tests ask for more.
template <class T>
std::optional<T> block_on_bounded(rt::Task<T> body, int turns = 1000) {
    return rt::block_on(Bounded<T>(std::move(body), turns));
}

}  // namespace testing
