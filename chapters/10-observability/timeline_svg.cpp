// timeline-svg: draws a window of a timeline written by `demo --trace` (Chrome trace-event JSON,
// rt/metrics/trace.hpp) as an SVG picture: a track per worker, a bar per poll coloured after its
// task's name, a tick for each wake, a red triangle for each steal. The chapter's picture is
// made with it from a real run (README.md, "A timeline"). Perfetto shows the same file
// interactively; this program exists so that a picture can sit in the text.
//
//   timeline-svg TRACE.json OUT.svg [--from-us T] [--window-us W]
//
// Without --from-us the window starts a little before the first steal, where work stealing is
// there to see.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "json.hpp"  // tools/tutor's JSON reader
#include "support/cli.hpp"

namespace {

/// A number of microseconds that is finite: CLI11's Range lets "nan" through, since no
/// comparison with NaN is true, and strtod reads "inf" and "nan" as numbers.
const CLI::Validator finite_number(
    [](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0' || !std::isfinite(value))
            return "not a finite number: " + text;
        return std::string();
    },
    "FINITE");

struct Event {
    std::string phase;  // "X" poll, "i" wake or steal
    std::string category;
    std::string name;
    int track = 0;
    double start_us = 0;
    double duration_us = 0;
};

/// A colour per task name: ten that tell apart, given in the order names first appear.
class Palette {
public:
    const char* colour_of(const std::string& name) {
        static constexpr const char* colours[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1",
                                                  "#edc948", "#76b7b2", "#ff9da7", "#9c755f",
                                                  "#bab0ac", "#e15759"};
        const auto [at, added] = index_.emplace(name, index_.size());
        return colours[at->second % std::size(colours)];
    }

private:
    std::map<std::string, std::size_t> index_;
};

std::string escaped(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '&')
            out += "&amp;";
        else if (c == '"')
            out += "&quot;";
        else
            out += c;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    std::string trace_path;
    std::string svg_path;
    double from_us = -1;
    double window_us = 2'000;
    CLI::App app{"Draws a window of a timeline written by demo --trace as an SVG picture.",
                 "timeline-svg"};
    app.add_option("trace", trace_path, "the timeline (Chrome trace-event JSON)")->required();
    app.add_option("svg", svg_path, "the picture to write")->required();
    app.add_option("--from-us", from_us,
                   "where the window starts, in us from the runtime's start (default: a little "
                   "before the first steal)")
        ->check(finite_number);
    app.add_option("--window-us", window_us, "how much time the picture shows, in us")
        ->check(finite_number)
        ->check(CLI::Range(1.0, 1e9))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::ifstream in(trace_path);
    if (!in) {
        std::fprintf(stderr, "timeline-svg: cannot read %s: %s\n", trace_path.c_str(),
                     std::strerror(errno));
        return 1;
    }
    std::ostringstream text;
    text << in.rdbuf();
    tutor::Json trace;
    try {
        trace = tutor::parse_json(text.str());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "timeline-svg: %s is not JSON: %s\n", trace_path.c_str(),
                     error.what());
        return 1;
    }
    const tutor::Json* list = trace.find("traceEvents");
    if (list == nullptr || list->kind != tutor::Json::Kind::array) {
        std::fprintf(stderr, "timeline-svg: %s has no traceEvents: not a timeline\n",
                     trace_path.c_str());
        return 1;
    }
    std::map<int, std::string> tracks;
    std::vector<Event> events;
    double first_steal = -1;
    for (const tutor::Json& item : list->items) {
        const tutor::Json* tid = item.find("tid");
        if (tid == nullptr) continue;
        const std::string phase = item.string_or("ph", "");
        if (phase == "M") {
            if (const tutor::Json* args = item.find("args")) {
                tracks[static_cast<int>(tid->number)] = args->string_or("name", "");
            }
            continue;
        }
        Event event;
        event.phase = phase;
        event.category = item.string_or("cat", "");
        event.name = item.string_or("name", "");
        event.track = static_cast<int>(tid->number);
        if (const tutor::Json* ts = item.find("ts")) event.start_us = ts->number;
        if (const tutor::Json* dur = item.find("dur")) event.duration_us = dur->number;
        if (event.category == "steal" && (first_steal < 0 || event.start_us < first_steal)) {
            first_steal = event.start_us;
        }
        events.push_back(std::move(event));
    }
    if (events.empty()) {
        std::fprintf(stderr, "timeline-svg: %s holds no events\n", trace_path.c_str());
        return 1;
    }
    if (from_us < 0) from_us = first_steal >= 0 ? std::max(0.0, first_steal - window_us / 4) : 0;
    const double to_us = from_us + window_us;

    // The layout: a label column, then the window scaled to `plot` pixels; a row per track.
    const double label = 110;
    const double plot = 900;
    const double row = 34;
    const double top = 30;
    std::vector<int> order;
    for (const auto& [tid, name] : tracks) {
        if (tid != 0) order.push_back(tid);
    }
    if (tracks.count(0) != 0) order.push_back(0);  // the other threads last
    std::map<int, int> row_of;
    for (std::size_t i = 0; i < order.size(); ++i) row_of[order[i]] = static_cast<int>(i);
    const double height = top + row * static_cast<double>(order.size()) + 70;
    auto x_of = [&](double us) { return label + (us - from_us) / window_us * plot; };

    std::FILE* out = std::fopen(svg_path.c_str(), "w");
    if (out == nullptr) {
        std::fprintf(stderr, "timeline-svg: cannot write %s: %s\n", svg_path.c_str(),
                     std::strerror(errno));
        return 1;
    }
    std::fprintf(out,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                 "font-family=\"sans-serif\" font-size=\"12\">\n"
                 "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                 label + plot + 20, height);
    for (const int tid : order) {
        const double y = top + row * row_of[tid];
        std::fprintf(out, "<text x=\"4\" y=\"%.1f\">%s</text>\n", y + row / 2 + 4,
                     escaped(tracks[tid]).c_str());
        std::fprintf(out,
                     "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                     label, label + plot, y + row - 2, y + row - 2);
    }
    std::set<std::string> legend;
    Palette palette;
    for (const Event& event : events) {
        const auto found = row_of.find(event.track);
        if (found == row_of.end()) continue;
        const double y = top + row * found->second;
        const double end = event.start_us + event.duration_us;
        if (end < from_us || event.start_us > to_us) continue;
        if (event.phase == "X") {
            const double x0 = x_of(std::max(event.start_us, from_us));
            const double x1 = x_of(std::min(end, to_us));
            std::fprintf(out,
                         "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%.1f\" fill=\"%s\">"
                         "<title>%s: %.1f us</title></rect>\n",
                         x0, y + 4, std::max(0.6, x1 - x0), row - 12, palette.colour_of(event.name),
                         escaped(event.name).c_str(), event.duration_us);
            legend.insert(event.name);
        } else if (event.category == "steal") {
            const double x = x_of(event.start_us);
            std::fprintf(out,
                         "<path d=\"M%.2f %.1f l-5 -9 l10 0 z\" fill=\"#d22\"><title>%s</title>"
                         "</path>\n",
                         x, y + 4, escaped(event.name).c_str());
        } else if (event.category == "wake") {
            const double x = x_of(event.start_us);
            std::fprintf(out,
                         "<line x1=\"%.2f\" x2=\"%.2f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                         "stroke-width=\"0.6\"/>\n",
                         x, x, y + row - 8, y + row - 2);
        }
    }
    // The time axis, and the legend: every task name drawn.
    const double axis = top + row * static_cast<double>(order.size()) + 4;
    for (int i = 0; i <= 4; ++i) {
        const double us = from_us + window_us * i / 4;
        std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%.0f us</text>\n",
                     x_of(us), axis + 12, us);
    }
    double x = label;
    for (const std::string& name : legend) {
        std::fprintf(out,
                     "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
                     x, axis + 26, palette.colour_of(name), x + 16, axis + 36,
                     escaped(name).c_str());
        x += 30 + 7.0 * static_cast<double>(name.size());
    }
    std::fprintf(out,
                 "<path d=\"M%.1f %.1f l-5 -9 l10 0 z\" fill=\"#d22\"/><text x=\"%.1f\" "
                 "y=\"%.1f\">steal</text>\n",
                 x + 5, axis + 37, x + 14, axis + 36);
    std::fprintf(out, "</svg>\n");
    const bool written = std::fclose(out) == 0;
    if (!written) {
        std::fprintf(stderr, "timeline-svg: cannot write %s: %s\n", svg_path.c_str(),
                     std::strerror(errno));
        return 1;
    }
    std::printf("timeline-svg: %s, %.0f us from %.0f us\n", svg_path.c_str(), window_us, from_us);
    return 0;
}
