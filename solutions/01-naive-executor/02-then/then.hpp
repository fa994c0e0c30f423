// Exercise 01-02 (solution): then(a, f), the state machine a compiler would make of
// `auto x = co_await a; co_return co_await f(x);`, written by hand. f is called exactly once,
// only after a is ready; a and f are destroyed as soon as f has made b; the output is b's.
#pragma once

#include <cassert>
#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

#include "rt/future.hpp"

namespace rt {

/// The future then(a, f) returns: first A, then the future B that f makes of A's output; its
/// output is B's. A's output must not be void (f takes it as its argument). futures-rs has the
/// same combinator, `FutureExt::then`.
///
/// The state is a std::variant of the three places the coroutine can be suspended at (or
/// finished), and each state holds exactly what is still needed from there on. That is what a
/// compiler generates for a coroutine: a frame whose live variables depend on the suspension
/// point. Chapter 4 lets the C++ compiler write this for us.
template <Future A, class F>
requires(!std::is_void_v<typename A::Output>) &&
    Future<std::invoke_result_t<F, typename A::Output>> class Then {
public:
    /// The second future: what f returns when given A's output.
    using B = std::invoke_result_t<F, typename A::Output>;
    using Output = typename B::Output;

    Then(A a, F f) : state_(First{std::move(a), std::move(f)}) {}

    Poll<Output> poll(Context& cx) {
        if (First* first = std::get_if<First>(&state_)) {
            Poll<typename A::Output> a = first->a.poll(cx);
            if (a.is_pending()) return pending;  // a has arranged for cx's waker to be woken
            // Make b before leaving First: emplace destroys the active state before building
            // the new one, so f and a's output must not be read from inside the emplace.
            B b = std::invoke(std::move(first->f), std::move(a).value());
            state_.template emplace<Second>(Second{std::move(b)});  // a and f are gone from here
            // No return here: b may well be ready already, and returning pending now would
            // need a wake-up that nobody has promised. Fall through and give b its first poll.
        }
        if (Second* second = std::get_if<Second>(&state_)) {
            Poll<Output> b = second->b.poll(cx);
            if (b.is_ready()) state_.template emplace<Done>();  // the output already left b
            return b;
        }
        assert(false && "then polled after it returned ready");
        return pending;
    }

private:
    struct First {  // waiting for a; f not called yet
        A a;
        F f;
    };
    struct Second {  // f was called with a's output; waiting for b
        B b;
    };
    struct Done {};  // b was ready and its output returned: nothing left to poll

    std::variant<First, Second, Done> state_;
};

/// The future that runs `a`, calls `f` with its output, and runs the future `f` returns.
template <Future A, class F>
requires(!std::is_void_v<typename A::Output>) &&
    Future<std::invoke_result_t<F, typename A::Output>> Then<A, F> then(A a, F f) {
    return Then<A, F>(std::move(a), std::move(f));
}

}  // namespace rt
