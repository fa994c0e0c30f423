// Context: what the executor hands to poll(). Today it carries only the waker of the task
// being polled; a future that returns Pending must keep (a clone of) it to be woken.
#pragma once

#include "rt/waker.hpp"

namespace rt {

class Context {
public:
    /// The waker must outlive the Context (the executor keeps both on its stack while polling).
    explicit Context(const Waker& waker) noexcept : waker_(&waker) {}

    const Waker& waker() const noexcept { return *waker_; }

private:
    const Waker* waker_;
};

}  // namespace rt
