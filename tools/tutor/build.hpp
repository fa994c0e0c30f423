// Building what a command needs with ninja in build/: quietly, with the output kept for a
// failure report, which shows the first compiler errors trimmed (compiler_errors.hpp).
#pragma once

#include <string>
#include <vector>

#include "project.hpp"

namespace tutor {

/// How building one ninja target went.
struct BuildResult {
    bool ok = false;
    bool unknown_target = false;  ///< ninja does not know the target (not in any meson.build)
    std::string output;           ///< ninja's and the compiler's output
};

/// Builds `target` ("chapters/01-naive-executor/demo") in the project's build/ folder, or in
/// `dir` (another build folder under the root, "build-tsan").
BuildResult build_target(const Project& project, const std::string& target,
                         const std::string& dir = "build");

/// Whether `dir`, under the root, is a configured meson build folder.
bool is_configured(const Project& project, const std::string& dir);

/// Configures `dir`, under the root, with meson and `options` (beyond the starters' folder)
/// unless it is configured. meson's output goes through, or with `quiet` is kept and shown
/// only if meson fails. False when it fails.
bool configure_build(const Project& project, const std::string& dir,
                     const std::vector<std::string>& options, bool quiet);

/// Builds `targets` in one ninja call, on every core, going on past a target that fails, and
/// shows ninja's progress on one line of stderr, headed `what`, with an estimate of the time
/// left. Targets ninja does not know are left out. Nothing is reported per target: a caller
/// then builds each one with build_target, which finds it up to date, or gives its errors.
void build_targets(const Project& project, std::vector<std::string> targets,
                   const std::string& what);

/// Prints the trimmed errors of a failed build to stdout, with `what` ("01-02 does not
/// compile yet") as the heading; nothing about what to do next.
void print_build_failure(const Project& project, const BuildResult& build, const std::string& what,
                         const std::string& target);

}  // namespace tutor
