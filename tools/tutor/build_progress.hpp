// Following a ninja build from its output: ninja starts each line it prints with "[f/t] "
// (NINJA_STATUS: f edges finished of t), and BuildProgress turns those lines, fed in chunks
// as they arrive, into one line for the learner: "[37/148] about 1 min left".
//
// Guarantees: a line cut between two chunks is read once it is whole; lines that do not start
// with a status (compiler output) are ignored; the estimate appears only once there is
// something to estimate from (a few edges, a few seconds), so it does not swing wildly at
// the start, and it is rounded to what a learner can use (seconds below a minute, then
// minutes).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace tutor {

class BuildProgress {
public:
    using Clock = std::chrono::steady_clock;

    /// Reads a chunk of ninja's output, received at `now`; true when the count changed.
    bool feed(std::string_view chunk, Clock::time_point now);

    std::size_t finished() const { return finished_; }
    std::size_t total() const { return total_; }

    /// "[37/148]", with " about 40 s left" when an estimate can be made at `now`; empty
    /// before ninja printed its first status.
    std::string line(Clock::time_point now) const;

    /// The estimate of the time left at `now`, if one can be made.
    std::optional<std::chrono::seconds> remaining(Clock::time_point now) const;

    /// "40 s", "2 min": a duration as the progress line gives it.
    static std::string describe(std::chrono::seconds duration);

    /// The "f/t" of a line that starts with "[f/t]", if it does.
    static std::optional<std::pair<std::size_t, std::size_t>> parse_status(std::string_view line);

private:
    void read_line(std::string_view line, Clock::time_point now);

    Clock::time_point first_status_{};  // when the first edge finished
    std::size_t first_finished_ = 0;    // and how many had
    std::size_t finished_ = 0;
    std::size_t total_ = 0;
    std::string partial_;  // the start of a line whose end has not come yet
};

}  // namespace tutor
