// A learner's progress: an exercise is done when its tests, built against the learner's files,
// pass; the outcome is remembered under a hash of every file it depends on.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "build.hpp"
#include "doctest_report.hpp"
#include "process.hpp"
#include "project.hpp"
#include "sanitizers.hpp"

// The tutor finds out by building and running the tests, and keeps the outcome in
// build/tutor/progress/; a changed file means checking again, and a hand-made marker file
// proves nothing.

namespace tutor {

/// How checking an exercise went.
enum class Outcome {
    passed,
    tests_failed,  ///< it builds, and some test fails
    crashed,       ///< the test program died from a signal before finishing
    timed_out,     ///< the test program ran past the time limit
    does_not_compile,
    not_in_build,  ///< exercises/meson.build does not list it (yet)
    interrupted,   ///< the learner stopped the check
};

/// Everything a check found out, for the report.
struct CheckResult {
    Outcome outcome = Outcome::not_in_build;
    BuildResult build;
    ProcessResult run;                      ///< the test program, when it ran
    DoctestReport report;                   ///< its output, read
    Sanitizer sanitizer = Sanitizer::none;  ///< the build it was checked in
    std::string build_dir = "build";        ///< that build's folder, under the root
};

/// How long an exercise's tests may run before the tutor stops them.
inline constexpr std::chrono::seconds test_time_limit{20};

class Progress {
public:
    explicit Progress(const Project& project) : project_(project) {}

    /// Builds the exercise's tests against the learner's files, runs them, remembers the outcome.
    /// With a sanitizer, in its build folder (sanitizers.hpp), configured first if need be;
    /// that outcome is remembered apart.
    CheckResult check(const Exercise& ex, Sanitizer sanitizer = Sanitizer::none);

    /// Whether the exercise, as it is now, passed under `sanitizer`: remembered, or nothing
    /// when it was not checked so since it last changed (this never checks).
    std::optional<bool> outcome_under(const Exercise& ex, Sanitizer sanitizer) const;

    /// Whether the exercise passes: remembered when none of its files changed, else checked
    /// (saying "checking NN-EE..." on stderr).
    bool is_done(const Exercise& ex);

    /// Finds out, for each of `exercises`, whether it is done. Those whose outcome is not
    /// remembered are checked: their tests are built first, in one ninja call on every core,
    /// with the build's progress on one line, then run one after the other.
    void check_all(const std::vector<Exercise>& exercises);

    /// The first exercise, in order, that is not done, other than `skip`; nullptr when none.
    const Exercise* next_unfinished(const Exercise* skip = nullptr);

    /// The ninja target and the program of an exercise's tests against the learner's files.
    static std::string test_target(const Exercise& ex) { return "exercises/ex-" + ex.id(); }

private:
    /// The hash of every file the exercise's result depends on.
    std::string key(const Exercise& ex) const;
    std::optional<bool> remembered(const Exercise& ex, const std::string& key,
                                   Sanitizer sanitizer = Sanitizer::none) const;
    void remember(const Exercise& ex, const std::string& key, bool passed,
                  Sanitizer sanitizer = Sanitizer::none) const;

    const Project& project_;
    std::map<std::string, bool> known_;  // id -> done, for this run of the tutor
};

}  // namespace tutor
