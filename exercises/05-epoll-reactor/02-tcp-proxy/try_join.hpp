// Exercise 05-02 (starter): ex::try_join of two coroutine tasks, the future that runs them side
// by side inside one task. Compiles; poll, marked TODO(exercise), is yours. The contract: ready
// once both tasks have finished; a finished task is never polled again; the first exception
// destroys the other task, where it waits, and comes out of poll.
//
// Exercise 04-02's join_all, for two tasks of void, with 04-02's select's rule for exceptions:
// each task is polled as the root of its own chain with the Context you were given, so whatever
// it waits for (a socket's read, say) keeps a clone of your task's waker and wakes it.
#pragma once

#include <optional>
#include <utility>

#include "rt/coroutine.hpp"
#include "rt/future.hpp"

namespace ex {

/// The future try_join returns: ready with nothing once both tasks have finished; rethrows the
/// first exception either ends with, after destroying the other.
class TryJoin {
public:
    using Output = void;

    TryJoin(rt::Task<void> first, rt::Task<void> second)
        : first_(std::move(first)), second_(std::move(second)) {}

    /// One turn for each unfinished task, the first one first; ready when neither is left.
    rt::Poll<void> poll(rt::Context& cx) {
        // TODO(exercise): poll *first_ with cx unless it has finished, then *second_ likewise.
        // A task that answers ready has finished: destroy it (reset the optional), and never
        // poll it again (a Task asserts on that). If a poll throws, destroy both tasks (the one
        // that threw is finished; the other would never be polled again) and let the exception
        // out. Ready once neither task is left; pending until then.
        (void)cx;
        return rt::ready;
    }

private:
    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    std::optional<rt::Task<void>> first_;   // empty once finished
    std::optional<rt::Task<void>> second_;  // empty once finished
};

/// Run both tasks at the same time, inside the task that awaits the result.
inline TryJoin try_join(rt::Task<void> first, rt::Task<void> second) {
    return TryJoin(std::move(first), std::move(second));
}

}  // namespace ex
