// Exercise 04-02 (starter): ex::select of two coroutine tasks, a future ready with the value of
// the first to finish, as a std::variant whose index says which. Compiles; poll, marked
// TODO(exercise), is yours. The contract: the loser is destroyed the moment select completes,
// before its value is returned: its frame where it is suspended, its locals, the future it awaited.
#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "rt/coroutine.hpp"
#include "rt/future.hpp"

namespace ex {

/// The future select returns: ready with std::variant<A, B>, index 0 when the first task won,
/// index 1 when the second did (the index matters when A and B are the same type). Biased: the
/// first task is polled first, so it wins when both could finish in the same poll.
template <class A, class B>
requires(!std::is_void_v<A> && !std::is_void_v<B>) class Select {
public:
    using Output = std::variant<A, B>;

    Select(rt::Task<A> first, rt::Task<B> second)
        : first_(std::move(first)), second_(std::move(second)) {}

    /// One turn for each task, the first one first; ready as soon as one has finished, with
    /// the other destroyed. A task's exception, likewise, destroys the other and comes out.
    rt::Poll<Output> poll(rt::Context& cx) {
        assert(first_ && second_ && "a Select polled after it completed");
        // TODO(exercise): poll *first_ with cx, then (if it is still pending) *second_. As soon
        // as one is ready: take its value, destroy both tasks (reset the optionals: the loser's
        // frame is destroyed where it waits), and return
        // Output(std::in_place_index<0 or 1>, std::move(value)). If a poll throws: destroy both,
        // then let the exception out. Neither ready: pending.
        (void)cx;
        return rt::pending;
    }

private:
    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    std::optional<rt::Task<A>> first_;   // empty once select completed
    std::optional<rt::Task<B>> second_;  // empty once select completed
};

/// Race two tasks: the first to finish gives its value; the other is destroyed where it waits.
template <class A, class B>
requires(!std::is_void_v<A> && !std::is_void_v<B>) Select<A, B> select(rt::Task<A> first,
                                                                       rt::Task<B> second) {
    return Select<A, B>(std::move(first), std::move(second));
}

}  // namespace ex
