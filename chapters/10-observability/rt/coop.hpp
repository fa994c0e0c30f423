// The cooperative budget (new in chapter 9; Tokio's task::coop, with its number).
//
// A task runs until its future returns pending. A task whose resources are always ready (a
// socket that always has data, a channel that is never empty, handles of calls that are done)
// never does: every co_await completes at once, and the task keeps its worker from every task
// queued behind it, for as long as the data lasts. Nothing in the future is wrong; the
// scheduler cannot take the thread back, since only the future decides when to return.
//
// So each poll of a task gets a budget: 128 operations. Each resource spends one unit every time
// it answers ready; once the budget is spent, every resource answers pending instead, and
// wakes the task at once, as yield_now does. The task goes to the back of its queue, its
// neighbours run, and at its next poll it goes on where it was suspended, with a new budget.
// Nothing is lost: the resource has done nothing yet when it answers pending this way.
//
// The resources that spend it: AsyncFd's I/O (every read, write and accept of the TCP types),
// JoinHandle, oneshot's Receiver, and Sleep. A future polled outside a task's poll (by hand,
// or by a blocking call) has no budget to spend: it is unlimited there.
//
// The protocol, in a resource's poll:
//  1. proceed(cx): if the budget is spent, wake cx's task by reference and answer false; the
//     resource returns pending without touching anything. Its next poll comes after the task's
//     neighbours have run.
//  2. otherwise do the work; when it is ready, spend one unit (spend()). An answer of pending
//     spends nothing: it is not progress, and the task will sleep anyway.
#pragma once

#include <cstdint>
#include <limits>
#include <utility>

#include "rt/future.hpp"

namespace rt::coop {

/// Ready answers a task may get in one poll before its resources make it yield.
inline constexpr std::uint32_t budget_per_poll = 128;

namespace detail {
inline constexpr std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
/// What is left of the budget of the task this thread polls; unlimited outside a task's poll.
inline thread_local std::uint32_t budget = unlimited;
}  // namespace detail

/// Set by whoever polls a task (the executor, the workers) around each poll: a new budget, and
/// the one before it back when the poll ends.
class PollBudget {
public:
    PollBudget() noexcept : saved_(std::exchange(detail::budget, budget_per_poll)) {}
    PollBudget(const PollBudget&) = delete;
    PollBudget& operator=(const PollBudget&) = delete;
    ~PollBudget() { detail::budget = saved_; }

private:
    std::uint32_t saved_;
};

/// Step 1: may the resource answer ready? False when the budget is spent: the task is woken to
/// run again after its neighbours, and the resource must answer pending.
// snippet-begin: proceed
inline bool proceed(Context& cx) {
    if (detail::budget != 0) return true;
    cx.waker().wake_by_ref();
    return false;
}

/// Step 2: the resource answered ready.
inline void spend() noexcept {
    if (detail::budget != detail::unlimited && detail::budget != 0) --detail::budget;
}
// snippet-end: proceed

/// What is left of this poll's budget (unlimited outside a task's poll), for tests.
inline std::uint32_t remaining() noexcept { return detail::budget; }

}  // namespace rt::coop
