// The report of one check of an exercise, shared by `tutor check` and `tutor watch`: what
// went wrong (compiler errors, failing tests, a crash, a hang) and where to look, or the pass.
#pragma once

#include "progress.hpp"
#include "project.hpp"

namespace tutor {

/// Prints the outcome of `result` to stdout; for a failure, also the next step (README, hint).
void print_check_report(const Project& project, const Exercise& ex, const CheckResult& result);

}  // namespace tutor
