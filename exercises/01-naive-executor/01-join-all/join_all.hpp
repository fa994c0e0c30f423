// Exercise 01-01 (starter): join_all(children), one future that runs many futures of the same
// type concurrently and is ready with all their outputs, in input order. Compiles; poll is yours.
#pragma once

#include <concepts>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/future.hpp"

namespace rt {

/// The future join_all returns. Its output is every child's output, in the order the children
/// were given. Children with a void output are not accepted: there would be nothing to collect
/// (give such a child an output, e.g. `true`, if you need to wait for it).
template <Future F>
requires(!std::is_void_v<typename F::Output>) class JoinAll {
public:
    using Output = std::vector<typename F::Output>;

    explicit JoinAll(std::vector<F> children)
        : children_(std::move(children)), outputs_(children_.size()) {}

    /// One turn for every child that is not finished yet, in input order; ready once all are.
    Poll<Output> poll(Context& cx) {
        // TODO(exercise): poll each child that has not finished yet, in input order, passing cx
        // on so the children can reach the waker. Store the output of each child that becomes
        // ready, and never poll that child again. When every child has finished, return their
        // outputs in input order; until then return pending. With no children at all, the
        // first poll is ready with an empty vector.
        (void)cx;
        return pending;
    }

private:
    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    std::vector<F> children_;  // polled in place, never moved
    std::vector<std::optional<typename F::Output>>
        outputs_;  // outputs_[i]: child i's output once ready
};

/// Run every future of `children` concurrently; ready with all their outputs, in input order.
template <Future F>
requires(!std::is_void_v<typename F::Output>) JoinAll<F> join_all(std::vector<F> children) {
    return JoinAll<F>(std::move(children));
}

}  // namespace rt
