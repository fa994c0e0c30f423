// The Future interface: anything with an `Output` type and a `poll(Context&)` that answers
// Poll<Output>. Like Rust's trait, it is a concept: futures are ordinary values, and only an
// executor that must hold futures of different types boxes them behind DynFuture.
//
// The contract every future keeps, in every chapter:
//  - poll() may be called any number of times until it returns ready, never after;
//  - a future that returns pending has arranged for cx.waker() to be woken when another
//    poll can make progress (chapter 1's executor ignores wakers and polls everyone, so
//    futures written for it still keep the contract, ready for chapter 2);
//  - a future is polled in place: it does not move between the first poll and completion.
#pragma once

#include <concepts>
#include <memory>
#include <utility>

#include "rt/context.hpp"
#include "rt/poll.hpp"

namespace rt {

// snippet-begin: future
template <class F>
concept Future = requires(F& future, Context& cx) {
    typename F::Output;
    { future.poll(cx) } -> std::same_as<Poll<typename F::Output>>;
};
// snippet-end: future

/// A future of any type behind a virtual poll: the C++ spelling of `dyn Future<Output = T>`.
template <class T>
class DynFuture {
public:
    using Output = T;
    virtual ~DynFuture() = default;
    virtual Poll<T> poll(Context& cx) = 0;
};

/// A heap-allocated, type-erased future that is never moved while alive.
template <class T>
using BoxFuture = std::unique_ptr<DynFuture<T>>;

namespace detail {
template <Future F>
class Boxed final : public DynFuture<typename F::Output> {
public:
    explicit Boxed(F future) : future_(std::move(future)) {}
    Poll<typename F::Output> poll(Context& cx) override { return future_.poll(cx); }

private:
    F future_;
};
}  // namespace detail

/// Move a future to the heap behind the DynFuture interface.
template <Future F>
BoxFuture<typename F::Output> box_future(F future) {
    return std::make_unique<detail::Boxed<F>>(std::move(future));
}

}  // namespace rt
