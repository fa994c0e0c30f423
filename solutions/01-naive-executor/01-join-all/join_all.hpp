// Exercise 01-01 (solution): join_all(children), one future that runs many futures of the same
// type concurrently and is ready with all their outputs, in input order, each child polled until
// it is ready and never after.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/future.hpp"

namespace rt {

/// The future join_all returns (futures-rs calls it the same). Its output is every child's
/// output, in the order the children were given. Children with a void output are not accepted:
/// there would be nothing to collect (give such a child an output, e.g. `true`, if you need to
/// wait for it).
///
/// Concurrency without threads: each poll of a JoinAll gives every unfinished child one turn,
/// so a child waiting for something never holds up the others. The waker in `cx` is the one of
/// the task that polls the JoinAll; handing it to every child means that whichever child can
/// progress wakes that task, and the next poll gives every unfinished child another turn.
template <Future F>
requires(!std::is_void_v<typename F::Output>) class JoinAll {
public:
    using Output = std::vector<typename F::Output>;

    explicit JoinAll(std::vector<F> children)
        : children_(std::move(children)),
          outputs_(children_.size()),
          remaining_(children_.size()) {}

    /// One turn for every child that is not finished yet, in input order; ready once all are.
    Poll<Output> poll(Context& cx) {
        assert(!finished_ && "join_all polled after it returned ready");
        for (std::size_t i = 0; i < children_.size(); ++i) {
            // A child that has answered ready must never be polled again (the Future contract):
            // its output slot being full is what tells us it is done.
            if (outputs_[i].has_value()) continue;
            Poll<typename F::Output> polled = children_[i].poll(cx);
            if (polled.is_ready()) {
                outputs_[i].emplace(std::move(polled).value());
                --remaining_;
            }
        }
        if (remaining_ > 0) return pending;

        // Every slot is full. Outputs leave in input order, whatever order they arrived in.
        Output results;
        results.reserve(outputs_.size());
        for (std::optional<typename F::Output>& output : outputs_)
            results.push_back(std::move(*output));
        finished_ = true;
        return results;
    }

private:
    // The children stay where they are until the JoinAll is destroyed: the vector is never
    // resized, so no child moves once it has been polled. (futures-rs frees each child as soon
    // as it is done by keeping a MaybeDone per slot, either the future or its output; two
    // vectors are simpler and the cost here is only memory held a little longer.)
    std::vector<F> children_;
    std::vector<std::optional<typename F::Output>>
        outputs_;            // outputs_[i]: child i's output once ready
    std::size_t remaining_;  // children not ready yet
    bool finished_ = false;  // ready was returned: polling again is a bug
};

/// Run every future of `children` concurrently; ready with all their outputs, in input order.
template <Future F>
requires(!std::is_void_v<typename F::Output>) JoinAll<F> join_all(std::vector<F> children) {
    return JoinAll<F>(std::move(children));
}

}  // namespace rt
