// `tutor bench [--stage NN] [--threads N] [--markdown FILE] [--svg FILE] [WORKLOAD...]`:
// builds the benchmark program of every stage that has one (tools/bench, bench-NN), runs the
// workloads on each, and prints one table, workloads by stages; --markdown and --svg also
// write it as a Markdown table and as an SVG chart (for docs/benchmarks.md). Without
// arguments: every timed workload of SPEC.md on every stage, in about two minutes on a
// two-core machine. A FILE that cannot be written fails the command (exit 1); a missing or
// read-only folder is found before the benchmarks run, not after.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>

#include "bench_report.hpp"
#include "build.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "process.hpp"

namespace tutor {

namespace {

/// Throws when `path` plainly cannot be written (its folder is missing or read-only, or it is
/// a folder), so a typo costs a message rather than minutes of benchmarks. `what` names the
/// content in the message ("the Markdown table").
void check_writable(const std::string& path, const std::string& what) {
    const fs::path file(path);
    const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    std::string reason;
    if (fs::is_directory(file)) {
        reason = "it is a folder";
    } else if (!fs::is_directory(folder)) {
        reason = "there is no folder " + folder.string();
    } else if (::access((fs::exists(file) ? file : folder).c_str(), W_OK) != 0) {
        reason = std::strerror(errno);
    }
    if (!reason.empty()) {
        throw std::runtime_error("cannot write " + what + " to " + path + ": " + reason);
    }
}

/// Writes `text` to `path`, replacing what it held; throws naming `what` when it cannot.
void write_text_file(const std::string& path, const std::string& text, const std::string& what) {
    errno = 0;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (out) out << text;
    if (out) out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + what + " to " + path +
                                 (errno != 0 ? ": " + std::string(std::strerror(errno)) : ""));
    }
    std::cerr << "tutor: wrote " << what << " to " << path << "\n";
}

}  // namespace

int bench_command(const Project& project, const BenchOptions& options) {
    const std::optional<std::string>& stage = options.stage;
    const int threads = options.threads;
    const std::vector<std::string>& workloads = options.workloads;
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

    if (!options.markdown_file.empty()) check_writable(options.markdown_file, "the Markdown table");
    if (!options.svg_file.empty()) check_writable(options.svg_file, "the SVG chart");

    std::vector<std::string> columns;
    BenchFiguresByStage figures;
    bool failed = false;    // a benchmark program crashed or failed: the exit code says so
    bool measured = false;  // at least one figure came back
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
                measured = true;
            }
            if (result.exit_code == 2) {
                std::cerr << "tutor: chapter " << chapter->number << " cannot run " << workload
                          << " with --threads " << threads << "\n";
            } else if (result.exit_code != 0) {
                std::cerr << "tutor: chapter " << chapter->number << "'s " << workload
                          << " failed (exit " << result.exit_code << ")\n";
                failed = true;
            }
        }
    }
    if (columns.empty()) {
        std::cout << "tutor: no stage has a benchmark program in the build\n";
        return 1;
    }
    if (!measured && !failed) {
        throw UsageError("no stage here can run " +
                         (workloads.empty() ? std::string("the workloads") : workloads.front()) +
                         " with --threads " + std::to_string(threads) +
                         (threads > 0 ? " (multi-threaded runtimes come with chapter 7)" : ""));
    }
    const std::vector<std::string>& rows = workloads.empty() ? known : workloads;
    std::cout << "median of 7 runs each, --threads " << threads << " (0: single-threaded)\n\n"
              << bench_table(rows, columns, figures) << std::flush;
    if (!options.markdown_file.empty()) {
        write_text_file(options.markdown_file, bench_markdown(rows, columns, figures),
                        "the Markdown table");
    }
    if (!options.svg_file.empty()) {
        write_text_file(options.svg_file, bench_svg(rows, columns, figures, threads),
                        "the SVG chart");
    }
    return failed ? 1 : 0;
}

}  // namespace tutor
