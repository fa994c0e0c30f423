// Exercise 04-02 (solution): ex::join_all over coroutine tasks, a future ready with every task's
// value in input order. Each poll gives every unfinished task one turn with the same Context;
// a finished task is never polled again; the first exception drops the other tasks and comes out.
//
// Who holds the waker: nobody here. Each child is a root Task polled with our Context, so the
// future a child waits for keeps a clone of our task's waker, and its event wakes our task.
// The next poll then gives every unfinished child a turn: the woken one makes progress, the
// others poll their futures again and answer pending (a spurious poll, harmless by the future
// contract). Polling only the woken child needs a waker per child; see README.md.
#pragma once

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/future.hpp"

namespace ex {

/// The future join_all returns. Its output is every task's value, in the order the tasks were
/// given. Tasks of void are not accepted: there would be nothing to collect (co_return true).
template <class T>
requires(!std::is_void_v<T>) class JoinAll {
public:
    using Output = std::vector<T>;

    explicit JoinAll(std::vector<rt::Task<T>> children)
        : children_(std::move(children)), outputs_(children_.size()) {}

    /// One turn for every unfinished task, in input order; ready once all are. Rethrows the
    /// first exception a task ends with, after destroying every other task.
    rt::Poll<Output> poll(rt::Context& cx) {
        bool all_done = true;
        for (std::size_t i = 0; i < children_.size(); ++i) {
            if (outputs_[i].has_value()) continue;  // finished: never polled again
            try {
                rt::Poll<T> polled = children_[i].poll(cx);  // the child is a root: same cx
                if (polled.is_ready()) {
                    outputs_[i].emplace(std::move(polled).value());
                } else {
                    all_done = false;
                }
            } catch (...) {
                // This poll ends join_all, which will never be polled again: the other tasks
                // would never run on, so they are destroyed now, where they are suspended.
                children_.clear();
                throw;
            }
        }
        if (!all_done) return rt::pending;
        Output values;
        values.reserve(outputs_.size());
        for (std::optional<T>& output : outputs_) values.push_back(std::move(*output));
        children_.clear();  // every frame is finished: free them now
        return values;
    }

private:
    std::vector<rt::Task<T>> children_;      // each polled as the root of its own chain
    std::vector<std::optional<T>> outputs_;  // outputs_[i]: task i's value once it finished
};

/// Run every task concurrently, inside the task that awaits the result; ready with all their
/// values, in input order.
template <class T>
requires(!std::is_void_v<T>) JoinAll<T> join_all(std::vector<rt::Task<T>> tasks) {
    return JoinAll<T>(std::move(tasks));
}

}  // namespace ex
