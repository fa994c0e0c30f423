// A test helper for what only the clock can order (a poll before a sleep's deadline, the
// executor asleep before a timer thread's wake): run the scenario with a short span, and when
// what it saw shows that the run was too slow for that span, again with a longer one. The
// verdict never depends on the machine's speed; only the test's duration does
// (docs/contributing.md).
#pragma once

#include <chrono>
#include <initializer_list>

namespace testing {

/// Calls `attempt(span)` with a span of 10 ms, then 100 ms, 1 s and 10 s, until an attempt
/// returns true; false if none did. An attempt returns false only when what it saw shows that
/// the run was too slow for its span (a poll after a deadline, a wake before the executor
/// slept, a request complete before its first poll), which sanitizers or a loaded machine may
/// cause; a broken runtime fails every attempt, after about 11 s.
template <class Attempt>
bool with_growing_spans(Attempt attempt) {
    using std::chrono::milliseconds;
    for (const milliseconds span :
         {milliseconds(10), milliseconds(100), milliseconds(1000), milliseconds(10000)}) {
        if (attempt(span)) return true;
    }
    return false;
}

}  // namespace testing
