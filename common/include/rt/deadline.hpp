// Deadline arithmetic that cannot overflow. `now + duration` is signed overflow, undefined
// behaviour, for the duration that code conventionally passes as "for ever"
// (std::chrono::nanoseconds::max()) and for any duration longer than what is left of the
// clock's range; a deadline is therefore computed here, and saturates: "later than the clock
// can say" becomes the clock's last time point, which no wait ever reaches. Every stage's
// sleep, timeout and interval compute their deadlines with these.
#pragma once

#include <chrono>

namespace rt {

/// `at + by`, clamped to the time points that TimePoint (a std::chrono::time_point) can hold.
template <class TimePoint>
TimePoint saturating_add(TimePoint at, std::chrono::nanoseconds by) {
    using Duration = typename TimePoint::duration;
    const typename Duration::rep step = std::chrono::duration_cast<Duration>(by).count();
    typename Duration::rep sum = 0;
    if (__builtin_add_overflow(at.time_since_epoch().count(), step, &sum)) {
        return step > 0 ? TimePoint::max() : TimePoint::min();
    }
    return TimePoint(Duration(sum));
}

/// The time point `duration` from now on steady_clock, saturating: sleep(nanoseconds::max())
/// waits for ever instead of overflowing into the past.
inline std::chrono::steady_clock::time_point deadline_after(std::chrono::nanoseconds duration) {
    return saturating_add(std::chrono::steady_clock::now(), duration);
}

}  // namespace rt
