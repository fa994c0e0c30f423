// Exercise 05-02 (solution): ex::try_join of two coroutine tasks, the future that runs them side
// by side inside one task. Ready once both have finished; the first exception destroys the other
// task, where it waits, and comes out. It is futures-rs's try_join, and tokio::try_join!.
//
// Who holds the waker: nobody here. Each task is a root Task polled with our Context, so the
// socket each one waits on keeps a clone of our task's waker, in the slot of its direction (a
// ScheduledIo has one for the reader and one for the writer). Two copies in opposite directions
// over the same two sockets wait in four different slots: read the client, write the upstream;
// read the upstream, write the client. Whichever is woken, the next poll gives both a turn.
//
// Why destroy the other task on an exception: try_join's poll that throws is its last, so the
// other task would never be polled again. Destroyed now, its coroutine frame goes where it is
// suspended, and the future it awaited (a read, say) with it; the socket keeps our waker until
// it is closed, and a wake of a task that completed is harmless.
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
        try {
            if (first_ && first_->poll(cx).is_ready()) first_.reset();  // never polled again
            if (second_ && second_->poll(cx).is_ready()) second_.reset();
        } catch (...) {
            first_.reset();  // whichever threw is finished; the other is destroyed where it waits
            second_.reset();
            throw;
        }
        if (first_ || second_) return rt::pending;
        return rt::ready;
    }

private:
    std::optional<rt::Task<void>> first_;   // empty once finished
    std::optional<rt::Task<void>> second_;  // empty once finished
};

/// Run both tasks at the same time, inside the task that awaits the result.
inline TryJoin try_join(rt::Task<void> first, rt::Task<void> second) {
    return TryJoin(std::move(first), std::move(second));
}

}  // namespace ex
