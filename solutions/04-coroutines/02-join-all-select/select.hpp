// Exercise 04-02 (solution): ex::select of two coroutine tasks, a future ready with the value of
// the first to finish, as a std::variant whose index says which. The loser is destroyed the
// moment select completes: its frame where it is suspended, its locals, the future it awaited.
//
// Cancellation, step by step, when the first task finishes (or throws):
//  1. take the winner's value (or catch its exception);
//  2. destroy the loser's Task: its coroutine frame is destroyed where it is suspended, so the
//     destructors of its locals run, and so does that of the co_await in progress, which
//     destroys the future it was waiting for (a sleep, a channel's receiver, a Task chain);
//  3. that future lets go of the waker it kept, a clone of our task's waker: nothing will wake
//     us for a race that is over, and no timer or channel keeps our task alive;
//  4. answer ready with the value (or rethrow). Destroying the loser before answering is what
//     makes its destructors observable right after select completes.
// Who holds the waker: nobody here; each child's awaited future keeps a clone of our task's
// waker, as in join_all, until it is ready or destroyed.
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
        if (std::optional<A> value = poll_child(first_, cx)) {
            return Output(std::in_place_index<0>, std::move(*value));
        }
        if (std::optional<B> value = poll_child(second_, cx)) {
            return Output(std::in_place_index<1>, std::move(*value));
        }
        return rt::pending;
    }

private:
    /// Poll one task as a root with our Context. Once it has finished (value or exception),
    /// both tasks are destroyed before its value is returned or its exception rethrown.
    template <class T>
    std::optional<T> poll_child(std::optional<rt::Task<T>>& child, rt::Context& cx) {
        try {
            rt::Poll<T> polled = child->poll(cx);
            if (polled.is_pending()) return std::nullopt;
            std::optional<T> value(std::move(polled).value());
            destroy_both();  // the loser's destructors run here; the winner's frame goes too
            return value;
        } catch (...) {
            destroy_both();
            throw;
        }
    }

    void destroy_both() {
        first_.reset();
        second_.reset();
    }

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
