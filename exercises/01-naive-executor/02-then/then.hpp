// Exercise 01-02 (starter): then(a, f), the state machine a compiler would make of
// `auto x = co_await a; co_return co_await f(x);`, written by hand. Compiles; poll is yours.
#pragma once

#include <functional>
#include <type_traits>
#include <utility>
#include <variant>

#include "rt/future.hpp"

namespace rt {

/// The future then(a, f) returns: first A, then the future B that f makes of A's output; its
/// output is B's. A's output must not be void (f takes it as its argument).
template <Future A, class F>
requires(!std::is_void_v<typename A::Output>) &&
    Future<std::invoke_result_t<F, typename A::Output>> class Then {
public:
    /// The second future: what f returns when given A's output.
    using B = std::invoke_result_t<F, typename A::Output>;
    using Output = typename B::Output;

    Then(A a, F f) : state_(First{std::move(a), std::move(f)}) {}

    Poll<Output> poll(Context& cx) {
        // TODO(exercise): drive the state machine below.
        //  - First: poll a. Pending: return pending. Ready: call f exactly once with a's output
        //    and move to Second, which destroys a and f; then poll b in this same call.
        //  - Second: poll b. Ready: move to Done and return b's output. Pending: return pending.
        //  - Done: the caller broke the contract (polled after ready).
        // Pass cx on to a and b: their wakers are how this future gets polled again.
        (void)cx;
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
