// Check reports (see check_report.hpp).
#include "check_report.hpp"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "sanitizer_report.hpp"
#include "terminal.hpp"

namespace tutor {

namespace {

void print_test_output(const CheckResult& result, const std::string& program) {
    const auto lines = failure_lines(result.report);
    for (const auto& line : lines) std::cout << "  " << line << '\n';
    if (!lines.empty()) std::cout << "\n  (everything the tests print: " << program << ")\n";
}

void print_stuck(const Project& project, const Exercise& ex) {
    const auto& s = Style::for_stdout();
    std::cout << "\nRead " << project.exercise_path(ex) << "/README.md again; stuck? " << s.cyan
              << "./tutor hint " << ex.id() << s.reset << '\n';
}

}  // namespace

void print_check_report(const Project& project, const Exercise& ex, const CheckResult& result) {
    const auto& s = Style::for_stdout();
    const std::string name = ex.id() + " " + ex.name;
    const std::string target = Progress::test_target(ex);
    const std::string program = result.build_dir + "/" + target;
    const auto& summary = result.report.summary;
    const std::string under = result.sanitizer == Sanitizer::none
                                  ? std::string()
                                  : " under " + sanitized_build(result.sanitizer).label;
    if (result.sanitizer != Sanitizer::none && result.outcome != Outcome::passed) {
        const auto report = sanitizer_report(result.run.output, project.root().string());
        if (!report.empty()) {
            std::cout << s.red << s.bold << name << ": " << sanitized_build(result.sanitizer).label
                      << " reports a problem" << s.reset << "\n\n";
            for (const auto& line : report) std::cout << "  " << line << '\n';
            std::cout << "\n  (the whole report: " << program << ", with "
                      << sanitized_build(result.sanitizer).env.front().first << "="
                      << sanitized_build(result.sanitizer).env.front().second << ")\n";
            print_stuck(project, ex);
            return;
        }
    }

    switch (result.outcome) {
        case Outcome::passed:
            std::cout << s.green << s.bold << name << ": every test passes" << under << s.reset;
            if (summary.found) {
                std::cout << " (" << summary.cases << " test case"
                          << (summary.cases == 1 ? "" : "s") << ", " << summary.assertions
                          << " assertion" << (summary.assertions == 1 ? "" : "s") << ")";
            }
            std::cout << ".\n\n";
            return;
        case Outcome::not_in_build:
            std::cout << s.yellow << name << " is not in the build yet" << s.reset
                      << ": exercises/meson.build does not list it, so there is no target "
                      << target << ".\n";
            return;
        case Outcome::does_not_compile:
            print_build_failure(project, result.build, name + " does not compile yet:", target);
            print_stuck(project, ex);
            return;
        case Outcome::tests_failed:
            std::cout << s.red << s.bold << name << ": " << summary.cases_failed << " of "
                      << summary.cases << " test case" << (summary.cases == 1 ? "" : "s") << " fail"
                      << (summary.cases_failed == 1 ? "s" : "") << s.reset << " ("
                      << summary.assertions_failed << " of " << summary.assertions
                      << " assertions failed)\n\n";
            print_test_output(result, program);
            print_stuck(project, ex);
            return;
        case Outcome::crashed:
            std::cout << s.red << s.bold << name << ": the tests crashed" << s.reset;
            if (result.run.signal != 0) {
                std::cout << " with " << signal_name(result.run.signal);
            } else {
                std::cout << " (exit code " << result.run.exit_code << ", no test summary)";
            }
            std::cout << "\n\n";
            print_test_output(result, program);
            print_stuck(project, ex);
            return;
        case Outcome::timed_out:
            std::cout << s.red << s.bold << name << ": the tests did not finish within "
                      << test_time_limit.count() * (result.sanitizer == Sanitizer::none ? 1 : 3)
                      << " seconds" << under << s.reset
                      << "\n  Something never ends: a run loop that never returns, or a future "
                         "that is never ready.\n";
            if (!result.report.sections.empty()) std::cout << "  Their output so far:\n\n";
            print_test_output(result, program);
            print_stuck(project, ex);
            return;
        case Outcome::interrupted:
            std::cout << name << ": check interrupted\n";
            return;
    }
}

}  // namespace tutor
