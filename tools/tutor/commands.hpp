// The tutor's commands, one function each (one source file each, named after the command).
// Each returns the exit code; bad input throws UsageError, other failures std::exception.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "project.hpp"
#include "sanitizers.hpp"

namespace tutor {

int status_command(const Project& project);
int list_command(const Project& project);
int run_command(const Project& project, const std::string& target,
                const std::vector<std::string>& args);
int check_command(const Project& project, const std::optional<std::string>& exercise,
                  Sanitizer sanitizer);
int watch_command(const Project& project, const std::optional<std::string>& exercise);
int hint_command(const Project& project, const std::optional<std::string>& exercise, bool all,
                 bool reset);
int reset_command(const Project& project, const std::string& exercise, bool yes);
int diff_command(const Project& project, const std::string& from, const std::string& to);
/// Every build and test; each test `repeat` times in each build.
int test_command(const Project& project, int repeat = 1);

/// What `tutor bench` runs, and where it writes the figures besides the table it prints.
struct BenchOptions {
    std::optional<std::string> stage;    ///< only this chapter's stage (default: every one)
    int threads = 0;                     ///< 0: the single-threaded runtime; N: N workers
    std::vector<std::string> workloads;  ///< default: every timed workload, and idle_memory
    std::string markdown_file;           ///< also write the table as Markdown here, if set
    std::string svg_file;                ///< also write the SVG chart here, if set
    bool vs_tokio = false;  ///< one stage (default: the newest) against the Tokio program
    int rounds = 5;         ///< with vs_tokio: runs of each program per workload, in turns
};
int bench_command(const Project& project, const BenchOptions& options);

}  // namespace tutor
