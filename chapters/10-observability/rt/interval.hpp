// interval(period): ticks at a fixed period. `co_await interval.tick()` completes at the next
// tick and gives its scheduled time; the first tick completes at once, as Tokio's does.
//
// The missed-tick policy: when a task comes late to a tick (it was busy, or the executor was),
// several ticks may have passed. Three answers, chosen with set_missed_tick_behavior:
//  - burst (the default, as in Tokio): the missed ticks complete at once, one per tick(), until
//    the interval has caught up; the average rate over time is kept;
//  - delay: the next tick is one period after the late one completed: no catching up, and
//    every later tick shifts;
//  - skip: the missed ticks are dropped; the next tick is the next one on the original
//    schedule, so the ticks stay aligned to it.
#pragma once

#include <cassert>
#include <chrono>

#include "rt/deadline.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"

namespace rt {

enum class MissedTickBehavior { burst, delay, skip };

class Interval {
public:
    Interval(Clock::time_point start, Clock::duration period) : period_(period), sleep_(start) {
        assert(period > Clock::duration::zero() && "an interval's period must be positive");
    }
    Interval(const Interval&) = delete;
    Interval& operator=(const Interval&) = delete;

    // snippet-begin: tick
    /// The future of tick(): ready with the scheduled time of the tick it completed.
    class Tick {
    public:
        using Output = Clock::time_point;
        explicit Tick(Interval& interval) : interval_(&interval) {}
        Poll<Clock::time_point> poll(Context& cx) {
            if (interval_->sleep_.poll(cx).is_pending()) return pending;
            return interval_->advance();
        }

    private:
        Interval* interval_;  // the interval outlives the future
    };

    /// Wait for the next tick. One tick() at a time: each needs the previous one done.
    Tick tick() { return Tick(*this); }
    // snippet-end: tick

    void set_missed_tick_behavior(MissedTickBehavior behavior) { behavior_ = behavior; }
    Clock::duration period() const noexcept { return period_; }

private:
    // snippet-begin: advance
    /// A tick completed: schedule the next one by the policy, and return this one's time.
    Clock::time_point advance() {
        const Clock::time_point scheduled = sleep_.deadline();
        const Clock::time_point now = Clock::now();
        Clock::time_point next = saturating_add(scheduled, period_);  // never overflows
        if (next <= now) {  // late by more than a period: ticks were missed
            switch (behavior_) {
                case MissedTickBehavior::burst:
                    break;  // the next tick is due at once: catch up one by one
                case MissedTickBehavior::delay:
                    next = saturating_add(now, period_);
                    break;
                case MissedTickBehavior::skip:
                    next += period_ * ((now - next) / period_ + 1);
                    break;
            }
        }
        sleep_.reset(next);
        return scheduled;
    }
    // snippet-end: advance

    Clock::duration period_;  // between two ticks
    MissedTickBehavior behavior_ = MissedTickBehavior::burst;
    Sleep sleep_;  // waits for the next tick; its deadline is that tick's scheduled time
};

/// Ticks every `period`, the first tick at once.
inline Interval interval(Clock::duration period) { return Interval(Clock::now(), period); }

/// Ticks every `period`, the first tick at `start`.
inline Interval interval_at(Clock::time_point start, Clock::duration period) {
    return Interval(start, period);
}

}  // namespace rt
