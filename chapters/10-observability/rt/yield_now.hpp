// yield_now(): a future that is pending the first time it is polled and ready the second,
// so the task that awaits it lets every other queued task run once in between.
#pragma once

#include "rt/future.hpp"

namespace rt {

class YieldNow {
public:
    using Output = void;

    Poll<void> poll(Context& cx) {
        if (yielded_) return ready;
        yielded_ = true;
        cx.waker().wake_by_ref();  // we can progress at once: ask to be polled again
        return pending;
    }

private:
    bool yielded_ = false;
};

inline YieldNow yield_now() { return YieldNow{}; }

}  // namespace rt
