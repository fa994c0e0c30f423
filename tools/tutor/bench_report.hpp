// Reading the benchmark programs' output (the `workload value unit` lines of
// shared/bench/SPEC.md) and printing the table `tutor bench` shows: workloads by stages.
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

/// The figures in a benchmark program's output, by workload. Lines that are not a known
/// workload followed by a number and a unit (progress, messages) are ignored.
std::map<std::string, BenchFigure> parse_bench_output(std::string_view output);

/// The table: one row per workload in `workloads`, one column per stage in `stages`; a
/// figure is "value unit", a missing one "-".
std::string bench_table(const std::vector<std::string>& workloads,
                        const std::vector<std::string>& stages,
                        const std::map<std::string, std::map<std::string, BenchFigure>>& figures);

}  // namespace tutor
