// Reading the benchmark programs' output (the `workload value unit` lines of
// shared/bench/SPEC.md) and writing what `tutor bench` shows: the table of workloads by
// stages, as text, as GitHub Markdown and as an SVG chart. Every writer is a pure function
// of its arguments: the same figures give byte-identical output.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// The workloads of SPEC.md that a benchmark program runs and times, in the table's order
/// (http is served, not timed, and is left to shared/bench/compare).
const std::vector<std::string>& bench_workloads();

/// One figure: "spawn_many 247.0 ns/task".
struct BenchFigure {
    double value = 0;
    std::string unit;
};

/// The figures of every stage: figures["06"]["spawn_many"].
using BenchFiguresByStage = std::map<std::string, std::map<std::string, BenchFigure>>;

/// The figures in a benchmark program's output, by workload. Lines that are not a known
/// workload followed by a number and a unit (progress, messages) are ignored.
std::map<std::string, BenchFigure> parse_bench_output(std::string_view output);

/// Whether a smaller figure in `unit` is the better one: true for times and sizes
/// (ns/task, ms_total, bytes/task, ...), false for rates (req/s).
bool bench_lower_is_better(std::string_view unit);

/// The table: one row per workload in `workloads`, one column per stage in `stages`; a
/// figure is "value unit", a missing one "-".
std::string bench_table(const std::vector<std::string>& workloads,
                        const std::vector<std::string>& stages, const BenchFiguresByStage& figures);

/// The same table as GitHub Markdown: a "workload" column, then one right-aligned column
/// per stage headed "ch. NN"; a figure is "value unit", a missing one "-".
std::string bench_markdown(const std::vector<std::string>& workloads,
                           const std::vector<std::string>& stages,
                           const BenchFiguresByStage& figures);

/// The same figures as a standalone SVG chart (white background, readable on GitHub):
/// a title naming `threads`, a legend of one colour per stage, then one group of
/// horizontal bars per workload that has a figure, one bar slot per stage in `stages`
/// order. Units differ between workloads, so each group is scaled to its own largest
/// figure, whose bar has the full width; every bar ends with its "value unit", a missing
/// figure shows "-" and no bar, and each group's heading says whether lower or higher is
/// better. Its <rect>s: the background, one per stage in the legend, one per figure.
std::string bench_svg(const std::vector<std::string>& workloads,
                      const std::vector<std::string>& stages, const BenchFiguresByStage& figures,
                      int threads);

}  // namespace tutor
