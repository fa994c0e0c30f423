// Reading the benchmark programs' output (the `workload value unit` lines of
// tools/bench/WORKLOADS.md, and wrk's report) and writing what `tutor bench` shows: the table
// of workloads by stages, as text, as GitHub Markdown and as an SVG chart; and, for `tutor
// bench --vs-tokio`, one stage against the Tokio program, as text and as Markdown. Every
// writer is a pure function of its arguments: the same figures give byte-identical output.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// The workloads of WORKLOADS.md that a benchmark program measures, in its table's order:
/// every one but http, which the program serves and wrk measures.
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

// ---- tutor bench --vs-tokio ----------------------------------------------------------------

/// One workload measured on a stage's benchmark program and on the Tokio program, in turns:
/// each program's figure of every round, or a note saying why there are none.
struct BenchComparison {
    std::string workload;
    std::string unit;           ///< the figures' unit ("ns/task", "req/s"), as the programs say
    std::vector<double> ours;   ///< the stage's figures, one per round
    std::vector<double> tokio;  ///< the Tokio program's
    std::string note;           ///< why a figure is missing ("skipped: ..."), or "" when none is
};

/// The median of `values`: the middle one, or the mean of the middle two; 0 for none.
double bench_median(std::vector<double> values);

/// How many times faster the stage is than Tokio, from the medians: Tokio's time over ours for
/// a time (ns/task, ms_total, ...), our rate over Tokio's for req/s; above 1, the stage is
/// faster. None when a side has no figure, and for bytes/task, which is shown side by side.
std::optional<double> bench_ratio(const BenchComparison& comparison);

/// The comparison as a text table: a heading naming the stage, `threads` and the rounds, a
/// row per workload (the medians and the ratio, or the note), and what the ratio means.
/// `stage` is a chapter number ("07"), `tokio` the Tokio version ("1.24.2", or "" unknown).
std::string comparison_table(const std::vector<BenchComparison>& comparisons,
                             const std::string& stage, const std::string& tokio, int threads,
                             int rounds);

/// The same rows as GitHub Markdown, for docs/benchmarks.md: workload, the stage's median,
/// Tokio's, and the ratio ("2.28x"), or "-" and the note.
std::string comparison_markdown(const std::vector<BenchComparison>& comparisons,
                                const std::string& stage, int threads);

/// The requests per second in wrk's report (its "Requests/sec:" line), or none.
std::optional<double> parse_wrk_rate(std::string_view output);

/// wrk's complaints in its report ("Socket errors: connect 0, read 3, ...", "Non-2xx or 3xx
/// responses: 12"), joined with "; ", or "" when it has none.
std::string parse_wrk_errors(std::string_view output);

/// The version of `package` in a Cargo.lock's text ("1.24.2"), or "" when it is not there.
std::string cargo_lock_version(std::string_view lock, std::string_view package);

}  // namespace tutor
