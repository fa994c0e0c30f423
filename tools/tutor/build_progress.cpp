// Reading ninja's status lines and estimating the time left (see build_progress.hpp).
#include "build_progress.hpp"

#include <charconv>

namespace tutor {

namespace {

/// Below this, an estimate is a guess: too few edges finished, or too little time measured.
constexpr std::size_t min_edges_for_estimate = 3;
constexpr auto min_time_for_estimate = std::chrono::seconds(3);

}  // namespace

std::optional<std::pair<std::size_t, std::size_t>> BuildProgress::parse_status(
    std::string_view line) {
    if (line.empty() || line.front() != '[') return std::nullopt;
    const std::size_t slash = line.find('/');
    const std::size_t close = line.find(']');
    if (slash == std::string_view::npos || close == std::string_view::npos || slash > close)
        return std::nullopt;
    std::size_t finished = 0;
    std::size_t total = 0;
    const char* begin = line.data();
    const auto f = std::from_chars(begin + 1, begin + slash, finished);
    const auto t = std::from_chars(begin + slash + 1, begin + close, total);
    if (f.ec != std::errc{} || f.ptr != begin + slash || t.ec != std::errc{} ||
        t.ptr != begin + close || total == 0 || finished > total)
        return std::nullopt;
    return std::pair{finished, total};
}

bool BuildProgress::feed(std::string_view chunk, Clock::time_point now) {
    const std::size_t before = finished_;
    const std::size_t total_before = total_;
    while (!chunk.empty()) {
        const std::size_t end = chunk.find_first_of("\r\n");
        if (end == std::string_view::npos) {
            partial_.append(chunk);
            break;
        }
        partial_.append(chunk.substr(0, end));
        read_line(partial_, now);
        partial_.clear();
        chunk.remove_prefix(end + 1);
    }
    return finished_ != before || total_ != total_before;
}

void BuildProgress::read_line(std::string_view line, Clock::time_point now) {
    const auto status = parse_status(line);
    if (!status) return;
    if (total_ == 0) {
        first_status_ = now;
        first_finished_ = status->first;
    }
    finished_ = status->first;
    total_ = status->second;
}

std::optional<std::chrono::seconds> BuildProgress::remaining(Clock::time_point now) const {
    if (total_ == 0 || finished_ >= total_) return std::nullopt;
    // The rate since the first status: the time before it (ninja reading its files, a meson
    // regeneration) is not compiling, and would make the estimate too long.
    const std::size_t done = finished_ - first_finished_;
    const auto elapsed = now - first_status_;
    if (done < min_edges_for_estimate || elapsed < min_time_for_estimate) return std::nullopt;
    const double per_edge = std::chrono::duration<double>(elapsed).count() / double(done);
    const double left = per_edge * double(total_ - finished_);
    return std::chrono::seconds(static_cast<long long>(left + 0.5));
}

std::string BuildProgress::describe(std::chrono::seconds duration) {
    const long long s = duration.count();
    if (s < 60) return std::to_string(s < 1 ? 1 : s) + " s";
    return std::to_string((s + 30) / 60) + " min";
}

std::string BuildProgress::line(Clock::time_point now) const {
    if (total_ == 0) return {};
    std::string text = "[" + std::to_string(finished_) + "/" + std::to_string(total_) + "]";
    if (const auto left = remaining(now)) text += ", about " + describe(*left) + " left";
    return text;
}

}  // namespace tutor
