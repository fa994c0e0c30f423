// `tutor test`: every build and every test, what CI runs, ending with the line
// "Summary: N passed, M failed".
#include <iomanip>
#include <iostream>

#include "build.hpp"
#include "commands.hpp"
#include "process.hpp"
#include "sanitizers.hpp"
#include "terminal.hpp"
#include "testlog.hpp"

// Three builds: build/ (all tests), build-asan/ (AddressSanitizer + UndefinedBehaviorSanitizer,
// all tests but the starters') and build-tsan/ (ThreadSanitizer, the suite 'threads'), the
// sanitized ones as sanitizers.hpp defines them. Their output streams through; results are
// counted from meson's testlog.json, one result per run of a test, so `--repeat N` (meson test
// --repeat) counts every run: a test that fails once in N counts. Learner exercises are not
// meson tests, so unfinished work never fails this.

namespace tutor {

namespace {

/// One of the three builds.
struct BuildPlan {
    std::string dir;                   ///< "build-asan", under the root
    std::string label;                 ///< what it is, for the headings
    std::vector<std::string> options;  ///< meson setup options beyond the starters' folder
    std::vector<std::pair<std::string, std::string>> env;  ///< for running the tests
    std::string suite;                                     ///< empty: every test
    std::vector<std::string> skipped_suites;               ///< not run, nor built
    int timeout_multiplier = 1;
    bool only_test_dependencies = false;  ///< build only what the tests run
};

/// How one build went.
struct BuildOutcome {
    std::string dir;
    TestCounts counts;
    bool build_failed = false;
    std::string skipped;  ///< why it did not run, when it did not
};

void heading(const std::string& text) {
    const auto& s = Style::for_stdout();
    std::cout << '\n' << s.bold << s.cyan << "==> " << text << s.reset << '\n' << std::flush;
}

/// Configures `plan.dir` unless it is; false when meson fails.
bool configure(const Project& project, const BuildPlan& plan) {
    if (is_configured(project, plan.dir)) return true;
    heading(plan.dir + ": configuring (once)");
    return configure_build(project, plan.dir, plan.options, false);
}

BuildOutcome run_build(const Project& project, const BuildPlan& plan, int repeat) {
    BuildOutcome outcome{plan.dir, {}, false, ""};
    const fs::path dir = project.root() / plan.dir;
    if (!configure(project, plan)) {
        outcome.build_failed = true;
        return outcome;
    }

    // build/ builds everything (demos and solution programs too); a sanitizer build only
    // what its tests need, which `meson test` builds itself (exit code 125 when it fails).
    if (!plan.only_test_dependencies) {
        heading(plan.dir + ": building (" + plan.label + ")");
        if (run_process({"ninja", "-C", dir.string()}).exit_code != 0) {
            outcome.build_failed = true;
            return outcome;
        }
    }

    heading(
        plan.dir + ": " +
        (plan.only_test_dependencies ? "building what the tests need (" + plan.label + "), " : "") +
        "testing" + (plan.suite.empty() ? "" : " the suite '" + plan.suite + "'"));
    const fs::path log = dir / "meson-logs" / "testlog.json";
    std::error_code ec;
    fs::remove(log, ec);  // a stale log must not count
    std::vector<std::string> meson{"meson", "test", "-C", dir.string(), "--print-errorlogs"};
    if (!plan.only_test_dependencies) meson.push_back("--no-rebuild");
    if (!plan.suite.empty()) meson.insert(meson.end(), {"--suite", plan.suite});
    for (const std::string& skipped : plan.skipped_suites)
        meson.insert(meson.end(), {"--no-suite", skipped});
    if (repeat > 1) meson.insert(meson.end(), {"--repeat", std::to_string(repeat)});
    if (plan.timeout_multiplier != 1) {
        meson.insert(meson.end(),
                     {"--timeout-multiplier", std::to_string(plan.timeout_multiplier)});
    }
    const auto result = run_process(meson, ProcessOptions().with_env(plan.env));

    if (!fs::exists(log)) {
        if (result.exit_code == 125) {
            outcome.build_failed = true;
        } else {
            outcome.counts.failed += 1;
            outcome.counts.failures.push_back("meson test wrote no testlog.json (exit code " +
                                              std::to_string(result.exit_code) + ")");
        }
        return outcome;
    }
    outcome.counts = count_test_results(read_text_file(log));
    if (result.exit_code != 0 && outcome.counts.failed == 0) {
        outcome.counts.failed += 1;
        outcome.counts.failures.push_back("meson test exited with code " +
                                          std::to_string(result.exit_code));
    }
    return outcome;
}

/// The tests of suite `suite` in the configured build/.
std::vector<SuiteTest> suite_tests(const Project& project, const std::string& suite) {
    const auto listing =
        run_process({"meson", "introspect", project.build_dir().string(), "--tests"},
                    ProcessOptions::captured());
    if (listing.exit_code != 0)
        throw std::runtime_error("meson introspect --tests failed: " + listing.output);
    return tests_in_suite(listing.output, suite);
}

}  // namespace

int test_command(const Project& project, int repeat) {
    const BuildPlan plain{"build", "debugoptimized", {"--buildtype=debugoptimized"}, {}, "", {}, 1,
                          false};
    const SanitizedBuild& address = sanitized_build(Sanitizer::address);
    const SanitizedBuild& thread = sanitized_build(Sanitizer::thread);
    const BuildPlan asan{address.dir,
                         address.label,
                         address.options,
                         address.env,
                         "",
                         // A starter's test is expected to fail, so a sanitizer's report could
                         // not change its verdict: building the starters again is time lost.
                         {"starters"},
                         3,
                         true};
    const BuildPlan tsan{thread.dir, thread.label, thread.options, thread.env, "threads", {},
                         3,          true};

    std::vector<BuildOutcome> outcomes;
    outcomes.push_back(run_build(project, plain, repeat));
    outcomes.push_back(run_build(project, asan, repeat));

    std::vector<SuiteTest> threaded;
    if (!outcomes.front().build_failed) threaded = suite_tests(project, tsan.suite);
    if (threaded.empty()) {
        const std::string why =
            outcomes.front().build_failed ? "build/ failed" : "no test is in the suite 'threads'";
        heading("build-tsan: skipped: " + why);
        outcomes.push_back({tsan.dir, {}, false, why});
    } else {
        outcomes.push_back(run_build(project, tsan, repeat));
    }

    const auto& s = Style::for_stdout();
    heading("tutor test: results");
    int passed = 0;
    int skipped = 0;
    int failed = 0;
    for (const auto& outcome : outcomes) {
        std::cout << "  " << std::left << std::setw(12) << outcome.dir;
        if (!outcome.skipped.empty()) {
            std::cout << "skipped (" << outcome.skipped << ")\n";
            continue;
        }
        const int build_failures = outcome.build_failed ? 1 : 0;
        passed += outcome.counts.passed;
        skipped += outcome.counts.skipped;
        failed += outcome.counts.failed + build_failures;
        std::cout << outcome.counts.passed << " passed, ";
        if (outcome.counts.skipped > 0) std::cout << outcome.counts.skipped << " skipped, ";
        std::cout << outcome.counts.failed + build_failures << " failed";
        if (outcome.build_failed) std::cout << s.red << " (the build failed)" << s.reset;
        std::cout << '\n';
        for (const auto& failure : outcome.counts.failures)
            std::cout << "      " << s.red << failure << s.reset << '\n';
        // A skipped test says why in its output (meson-logs/testlog.txt).
        for (const auto& skip : outcome.counts.skips)
            std::cout << "      " << s.yellow << skip << " (skipped)" << s.reset << '\n';
    }
    std::cout << "Summary: " << passed << " passed, ";
    if (skipped > 0) std::cout << skipped << " skipped, ";
    std::cout << failed << " failed\n" << std::flush;
    return failed == 0 ? 0 : 1;
}

}  // namespace tutor
