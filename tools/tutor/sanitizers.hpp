// The sanitized builds, shared by `tutor test` (which runs every test in them, as CI does) and
// `tutor check --asan/--tsan` (one exercise, so that a learner meets a use-after-free or a
// data race before CI does):
//  - build-asan/: AddressSanitizer and UndefinedBehaviorSanitizer;
//  - build-tsan/: ThreadSanitizer.
// Both compile at -O1 with line tables only (-g1): half the compile time of debugoptimized's
// -O2 -g (one chapter test file under ASan: 30 s against 57), and their reports still name file
// and line. A report ends the test program with a failure (abort_on_error, halt_on_error).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "project.hpp"

namespace tutor {

enum class Sanitizer { none, address, thread };

/// One sanitized build folder, and how to run what it builds.
struct SanitizedBuild {
    std::string dir;                   ///< "build-asan", under the root
    std::string flag;                  ///< "--asan": the option of `tutor check`
    std::string label;                 ///< "AddressSanitizer and UndefinedBehaviorSanitizer"
    std::vector<std::string> options;  ///< meson setup options beyond the starters' folder
    std::vector<std::pair<std::string, std::string>> env;  ///< for running its programs
};

/// The build of `sanitizer` (not Sanitizer::none).
const SanitizedBuild& sanitized_build(Sanitizer sanitizer);

/// The sanitizer an exercise's chapter needs, as CI runs its solution: from chapter 2 on the
/// runtime uses threads, and ThreadSanitizer (exercises/meson.build); before, AddressSanitizer.
Sanitizer sanitizer_needed(const Exercise& ex);

}  // namespace tutor
