// `tutor bench [--stage NN] [--threads N] [WORKLOAD...]`: builds the benchmark program of
// every stage that has one (tools/bench, bench-NN), runs the workloads on each, and prints
// one table, workloads by stages. Without arguments: every timed workload of SPEC.md on every
// stage, in about two minutes on a two-core machine.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>

#include "bench_report.hpp"
#include "build.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "process.hpp"

namespace tutor {

int bench_command(const Project& project, const std::optional<std::string>& stage, int threads,
                  const std::vector<std::string>& workloads) {
    const auto& known = bench_workloads();
    for (const std::string& workload : workloads) {
        if (std::find(known.begin(), known.end(), workload) == known.end()) {
            std::string list;
            for (const std::string& name : known) list += " " + name;
            throw UsageError("unknown workload '" + workload + "'; the workloads are:" + list);
        }
    }
    std::vector<const Chapter*> stages;
    for (const Chapter& chapter : project.chapters()) {
        if (!chapter.present || chapter.number < "04") continue;  // coroutines from chapter 4
        if (stage && chapter.number != *stage) continue;
        stages.push_back(&chapter);
    }
    if (stages.empty()) {
        throw UsageError(stage ? "no benchmark program for chapter '" + *stage +
                                     "': the stages from chapter 04 on have one"
                               : "no chapter has a benchmark program yet");
    }

    std::vector<std::string> columns;
    std::map<std::string, std::map<std::string, BenchFigure>> figures;
    for (const Chapter* chapter : stages) {
        const std::string target = "tools/bench/bench-" + chapter->number;
        const BuildResult build = build_target(project, target);
        if (build.unknown_target) continue;  // a stage the benchmarks do not cover
        if (!build.ok) {
            print_build_failure(
                project, build,
                "chapter " + chapter->number + "'s benchmark program does not build:", target);
            return 1;
        }
        columns.push_back(chapter->number);
        std::vector<std::string> runs = workloads;
        if (runs.empty()) runs = {"all", "idle_memory"};
        for (const std::string& workload : runs) {
            std::cerr << "tutor: chapter " << chapter->number << ": " << workload << "...\n";
            const ProcessResult result =
                run_process({(project.build_dir() / target).string(), workload, "--threads",
                             std::to_string(threads)},
                            ProcessOptions::captured().within(std::chrono::minutes(10)));
            for (auto& [name, figure] : parse_bench_output(result.output)) {
                figures[chapter->number][name] = figure;
            }
            if (result.exit_code == 2) {
                std::cerr << "tutor: chapter " << chapter->number << " cannot run " << workload
                          << " with --threads " << threads << "\n";
            } else if (result.exit_code != 0) {
                std::cerr << "tutor: chapter " << chapter->number << "'s " << workload
                          << " failed (exit " << result.exit_code << ")\n";
            }
        }
    }
    if (columns.empty()) {
        std::cout << "tutor: no stage has a benchmark program in the build\n";
        return 1;
    }
    std::cout << "median of 7 runs each, --threads " << threads << " (0: single-threaded)\n\n"
              << bench_table(workloads.empty() ? known : workloads, columns, figures);
    return 0;
}

}  // namespace tutor
