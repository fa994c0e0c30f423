// Reading benchmark output and writing the stages' table as text, Markdown and SVG
// (bench_report.hpp).
#include "bench_report.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <optional>
#include <sstream>

namespace tutor {

namespace {

/// `text` as a Markdown table cell: a "|" would end the cell, and GitHub reads "\|" as the
/// character.
std::string cell(const std::string& text) {
    std::string escaped;
    for (char c : text) {
        if (c == '|') escaped += '\\';
        escaped += c;
    }
    return escaped;
}

/// The figure of `workload` on `stage`, or nullptr when it has none.
const BenchFigure* find_figure(const BenchFiguresByStage& figures, const std::string& stage,
                               const std::string& workload) {
    const auto by_stage = figures.find(stage);
    if (by_stage == figures.end()) return nullptr;
    const auto found = by_stage->second.find(workload);
    return found == by_stage->second.end() ? nullptr : &found->second;
}

/// "247.3 ns/task": one decimal, as every writer prints a figure.
std::string figure_text(const BenchFigure& figure) {
    char value[48];
    std::snprintf(value, sizeof value, "%.1f", figure.value);
    return std::string(value) + " " + figure.unit;
}

}  // namespace

const std::vector<std::string>& bench_workloads() {
    static const std::vector<std::string> names = {
        "spawn_many",    "spawn_remote", "yield_many",  "ping_pong",     "chained_spawn",
        "timeout_ready", "sleep_many",   "idle_memory", "blocking_many", "file_read",
    };
    return names;
}

std::map<std::string, BenchFigure> parse_bench_output(std::string_view output) {
    std::map<std::string, BenchFigure> figures;
    std::istringstream lines{std::string(output)};
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string workload, number, unit, extra;
        if (!(words >> workload >> number >> unit) || (words >> extra)) continue;
        const auto& known = bench_workloads();
        if (std::find(known.begin(), known.end(), workload) == known.end()) continue;
        double value = 0;
        const auto [end, error] =
            std::from_chars(number.data(), number.data() + number.size(), value);
        if (error != std::errc() || end != number.data() + number.size()) continue;
        figures[workload] = BenchFigure{value, unit};
    }
    return figures;
}

bool bench_lower_is_better(std::string_view unit) { return unit != "req/s"; }

std::string bench_table(const std::vector<std::string>& workloads,
                        const std::vector<std::string>& stages,
                        const BenchFiguresByStage& figures) {
    constexpr int name_width = 15;
    constexpr int column_width = 20;
    std::string table;
    char cell[64];
    std::snprintf(cell, sizeof cell, "%-*s", name_width, "workload");
    table += cell;
    for (const std::string& stage : stages) {
        std::snprintf(cell, sizeof cell, "%*s", column_width, ("chapter " + stage).c_str());
        table += cell;
    }
    table += '\n';
    for (const std::string& workload : workloads) {
        std::snprintf(cell, sizeof cell, "%-*s", name_width, workload.c_str());
        table += cell;
        for (const std::string& stage : stages) {
            const BenchFigure* figure = find_figure(figures, stage, workload);
            const std::string text = figure ? figure_text(*figure) : "-";
            std::snprintf(cell, sizeof cell, "%*s", column_width, text.c_str());
            table += cell;
        }
        table += '\n';
    }
    return table;
}

std::string bench_markdown(const std::vector<std::string>& workloads,
                           const std::vector<std::string>& stages,
                           const BenchFiguresByStage& figures) {
    std::string table = "| workload |";
    for (const std::string& stage : stages) table += " ch. " + cell(stage) + " |";
    table += "\n|---|";
    for (std::size_t i = 0; i < stages.size(); ++i) table += "---:|";
    table += '\n';
    for (const std::string& workload : workloads) {
        table += "| " + cell(workload) + " |";
        for (const std::string& stage : stages) {
            const BenchFigure* figure = find_figure(figures, stage, workload);
            table += " " + (figure ? cell(figure_text(*figure)) : std::string("-")) + " |";
        }
        table += '\n';
    }
    return table;
}

namespace {

/// `text` with the characters XML gives a meaning escaped, for text and attribute values.
std::string xml_text(std::string_view text) {
    std::string escaped;
    for (char c : text) {
        switch (c) {
            case '&':
                escaped += "&amp;";
                break;
            case '<':
                escaped += "&lt;";
                break;
            case '>':
                escaped += "&gt;";
                break;
            case '"':
                escaped += "&quot;";
                break;
            case '\'':
                escaped += "&apos;";
                break;
            default:
                escaped += c;
        }
    }
    return escaped;
}

/// A stage's colour, by its position among the stages (Tableau 10, distinct and readable on
/// white; an eleventh stage starts over).
const char* stage_colour(std::size_t position) {
    static constexpr const char* palette[] = {
        "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
        "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
    };
    return palette[position % std::size(palette)];
}

/// A coordinate or a length with one decimal ("440.0"): short, and the same digits for the
/// same figures.
std::string svg_length(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    return text;
}

}  // namespace

std::string bench_svg(const std::vector<std::string>& workloads,
                      const std::vector<std::string>& stages, const BenchFiguresByStage& figures,
                      int threads) {
    // The layout, in pixels: a fixed width; bars start after the stage labels and the longest
    // of a group is `bar_width` long, leaving room for its "value unit" on the right.
    constexpr int width = 760;
    constexpr int margin = 20;
    constexpr int legend_top = 58;
    constexpr int legend_step = 90;  // between two legend entries
    constexpr int first_heading = 96;
    constexpr int heading_gap = 8;  // from a group's heading to its first bar
    constexpr int row_height = 20;
    constexpr int bar_height = 14;
    constexpr int group_gap = 24;  // from a group's last bar to the next heading
    constexpr int bar_left = 90;
    constexpr double bar_width = 440;

    // The groups: the workloads with at least one figure.
    std::vector<std::string> groups;
    for (const std::string& workload : workloads) {
        for (const std::string& stage : stages) {
            if (find_figure(figures, stage, workload)) {
                groups.push_back(workload);
                break;
            }
        }
    }
    const int group_height = heading_gap + static_cast<int>(stages.size()) * row_height;
    int height = first_heading + margin;
    if (!groups.empty()) {
        height = first_heading + static_cast<int>(groups.size()) * (group_height + group_gap) -
                 group_gap + margin;
    }

    std::string svg;
    const auto line = [&svg](const std::string& text) { svg += text + '\n'; };
    line("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
         "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) +
         " " + std::to_string(height) + "\" font-family=\"sans-serif\" font-size=\"12\">");
    line("<rect x=\"0\" y=\"0\" width=\"" + std::to_string(width) + "\" height=\"" +
         std::to_string(height) + "\" fill=\"#ffffff\"/>");
    const std::string runtime =
        threads == 0 ? "the single-threaded runtime" : std::to_string(threads) + " worker threads";
    line("<text x=\"" + std::to_string(margin) + "\" y=\"28\" font-size=\"16\" " +
         "font-weight=\"bold\" fill=\"#222222\">tutor bench, --threads " + std::to_string(threads) +
         ": " + xml_text(runtime) + "</text>");
    line("<text x=\"" + std::to_string(margin) + "\" y=\"46\" fill=\"#555555\">" +
         "Each workload&apos;s bars are scaled to its largest figure.</text>");

    for (std::size_t i = 0; i < stages.size(); ++i) {
        const int x = margin + static_cast<int>(i) * legend_step;
        line("<rect x=\"" + std::to_string(x) + "\" y=\"" + std::to_string(legend_top) +
             "\" width=\"12\" height=\"12\" fill=\"" + stage_colour(i) + "\"/>");
        line("<text x=\"" + std::to_string(x + 16) + "\" y=\"" + std::to_string(legend_top + 10) +
             "\" fill=\"#222222\">ch. " + xml_text(stages[i]) + "</text>");
    }

    int heading = first_heading;
    for (const std::string& workload : groups) {
        // The group's scale, its unit and which way is better come from its figures.
        double largest = 0;
        std::string unit;
        for (const std::string& stage : stages) {
            if (const BenchFigure* figure = find_figure(figures, stage, workload)) {
                if (unit.empty()) unit = figure->unit;
                largest = std::max(largest, figure->value);
            }
        }
        const std::string better =
            bench_lower_is_better(unit) ? "lower is better" : "higher is better";
        line("<text x=\"" + std::to_string(margin) + "\" y=\"" + std::to_string(heading) +
             "\" font-size=\"13\" fill=\"#222222\"><tspan font-weight=\"bold\">" +
             xml_text(workload) + "</tspan> (" + xml_text(unit) + ", " + better + ")</text>");
        for (std::size_t i = 0; i < stages.size(); ++i) {
            const int top = heading + heading_gap + static_cast<int>(i) * row_height;
            const std::string baseline = std::to_string(top + 11);
            line("<text x=\"" + std::to_string(bar_left - 6) + "\" y=\"" + baseline +
                 "\" text-anchor=\"end\" fill=\"#555555\">ch. " + xml_text(stages[i]) + "</text>");
            const BenchFigure* figure = find_figure(figures, stages[i], workload);
            double length = 0;
            if (figure) {
                // The largest figure gets exactly bar_width; zero and below get no length.
                if (figure->value >= largest && largest > 0) {
                    length = bar_width;
                } else if (largest > 0 && figure->value > 0) {
                    length = figure->value / largest * bar_width;
                }
                line("<rect x=\"" + std::to_string(bar_left) + "\" y=\"" + std::to_string(top) +
                     "\" width=\"" + svg_length(length) + "\" height=\"" +
                     std::to_string(bar_height) + "\" fill=\"" + stage_colour(i) + "\"/>");
            }
            line("<text x=\"" + svg_length(bar_left + length + 6) + "\" y=\"" + baseline +
                 "\" fill=\"#222222\">" + (figure ? xml_text(figure_text(*figure)) : "-") +
                 "</text>");
        }
        heading += group_height + group_gap;
    }
    line("</svg>");
    return svg;
}

// ---- tutor bench --vs-tokio ----------------------------------------------------------------

double bench_median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    const std::size_t middle = values.size() / 2;
    return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

std::optional<double> bench_ratio(const BenchComparison& comparison) {
    if (comparison.ours.empty() || comparison.tokio.empty()) return std::nullopt;
    if (comparison.unit == "bytes/task") return std::nullopt;  // side by side, no ratio
    const double ours = bench_median(comparison.ours);
    const double tokio = bench_median(comparison.tokio);
    if (ours <= 0 || tokio <= 0) return std::nullopt;
    return bench_lower_is_better(comparison.unit) ? tokio / ours : ours / tokio;
}

namespace {

/// A side's median as "value unit", or "-" when it has no figure.
std::string median_text(const std::vector<double>& figures, const std::string& unit) {
    if (figures.empty()) return "-";
    return figure_text(BenchFigure{bench_median(figures), unit});
}

/// The last cell of a row: the ratio ("2.28x"), with the note in brackets after it if there
/// is one; the note alone when there is no ratio; else "-".
std::string ratio_text(const BenchComparison& comparison) {
    std::string text;
    if (const std::optional<double> ratio = bench_ratio(comparison)) {
        char value[48];
        std::snprintf(value, sizeof value, "%.2fx", *ratio);
        text = value;
        if (!comparison.note.empty()) text += " (" + comparison.note + ")";
    } else {
        text = comparison.note.empty() ? "-" : comparison.note;
    }
    return text;
}

/// What the Tokio program ran on: "current_thread", or "N workers".
std::string tokio_runtime(int threads) {
    if (threads == 0) return "current_thread";
    return std::to_string(threads) + (threads == 1 ? " worker" : " workers");
}

}  // namespace

std::string comparison_table(const std::vector<BenchComparison>& comparisons,
                             const std::string& stage, const std::string& tokio, int threads,
                             int rounds) {
    constexpr int name_width = 15;
    constexpr int column_width = 19;
    const std::string ours = "chapter " + stage;
    std::string table = ours + " against Tokio" + (tokio.empty() ? "" : " " + tokio) + " (" +
                        tokio_runtime(threads) + "), --threads " + std::to_string(threads) +
                        ": medians of " + std::to_string(rounds) +
                        (rounds == 1 ? " run" : " runs") + " each, the two programs in turns\n\n";
    char cell[256];
    std::snprintf(cell, sizeof cell, "%-*s%*s%*s  %s\n", name_width, "workload", column_width,
                  ours.c_str(), column_width, "Tokio", "ratio");
    table += cell;
    for (const BenchComparison& comparison : comparisons) {
        std::snprintf(cell, sizeof cell, "%-*s%*s%*s  ", name_width, comparison.workload.c_str(),
                      column_width, median_text(comparison.ours, comparison.unit).c_str(),
                      column_width, median_text(comparison.tokio, comparison.unit).c_str());
        table += cell + ratio_text(comparison) + '\n';
    }
    table +=
        "\nratio: Tokio's time over ours (for http, our requests per second over Tokio's);\n"
        "above 1, " +
        ours + " is faster. idle_memory: the bytes per task, side by side.\n";
    return table;
}

std::string comparison_markdown(const std::vector<BenchComparison>& comparisons,
                                const std::string& stage, int threads) {
    std::string table = "| workload | chapter " + cell(stage) + " | Tokio " +
                        tokio_runtime(threads) + " | ratio (above 1: chapter " + cell(stage) +
                        " faster) |\n|---|---:|---:|---:|\n";
    for (const BenchComparison& comparison : comparisons) {
        table += "| " + cell(comparison.workload) + " | " +
                 cell(median_text(comparison.ours, comparison.unit)) + " | " +
                 cell(median_text(comparison.tokio, comparison.unit)) + " | " +
                 cell(ratio_text(comparison)) + " |\n";
    }
    return table;
}

std::optional<double> parse_wrk_rate(std::string_view output) {
    std::istringstream lines{std::string(output)};
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string label, number, extra;
        if (!(words >> label >> number) || label != "Requests/sec:" || (words >> extra)) continue;
        double value = 0;
        const auto [end, error] =
            std::from_chars(number.data(), number.data() + number.size(), value);
        if (error == std::errc() && end == number.data() + number.size()) return value;
    }
    return std::nullopt;
}

std::string parse_wrk_errors(std::string_view output) {
    std::istringstream lines{std::string(output)};
    std::string line, errors;
    while (std::getline(lines, line)) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos) continue;
        line.erase(0, first);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.starts_with("Socket errors:") || line.starts_with("Non-2xx or 3xx responses:")) {
            errors += (errors.empty() ? "" : "; ") + line;
        }
    }
    return errors;
}

std::string cargo_lock_version(std::string_view lock, std::string_view package) {
    // A package is a [[package]] block of `key = "value"` lines: name, then version.
    std::istringstream lines{std::string(lock)};
    std::string line;
    bool in_package = false;
    const std::string name_line = "name = \"" + std::string(package) + "\"";
    while (std::getline(lines, line)) {
        if (line.starts_with("[")) {
            in_package = false;
        } else if (line == name_line) {
            in_package = true;
        } else if (in_package && line.starts_with("version = \"") && line.ends_with("\"")) {
            return line.substr(11, line.size() - 12);
        }
    }
    return "";
}

}  // namespace tutor
