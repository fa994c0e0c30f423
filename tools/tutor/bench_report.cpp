// Reading benchmark output and printing the stages' table (bench_report.hpp).
#include "bench_report.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <sstream>

namespace tutor {

const std::vector<std::string>& bench_workloads() {
    static const std::vector<std::string> names = {
        "spawn_many",    "spawn_remote",  "yield_many", "ping_pong",
        "chained_spawn", "timeout_ready", "sleep_many", "idle_memory",
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

std::string bench_table(const std::vector<std::string>& workloads,
                        const std::vector<std::string>& stages,
                        const std::map<std::string, std::map<std::string, BenchFigure>>& figures) {
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
            std::string text = "-";
            if (auto by_stage = figures.find(stage); by_stage != figures.end()) {
                if (auto found = by_stage->second.find(workload); found != by_stage->second.end()) {
                    char value[48];
                    std::snprintf(value, sizeof value, "%.1f %s", found->second.value,
                                  found->second.unit.c_str());
                    text = value;
                }
            }
            std::snprintf(cell, sizeof cell, "%*s", column_width, text.c_str());
            table += cell;
        }
        table += '\n';
    }
    return table;
}

}  // namespace tutor
