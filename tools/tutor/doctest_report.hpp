// Reading a doctest program's output: its summary and each failing case, without banner and
// separators; and the few lines worth printing (first cases in full, the others by name).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// doctest's closing summary lines.
struct DoctestSummary {
    bool found = false;  ///< false when the program ended before printing it (a crash)
    int cases = 0;
    int cases_passed = 0;
    int cases_failed = 0;
    int assertions = 0;
    int assertions_passed = 0;
    int assertions_failed = 0;
};

/// One section of the output between doctest's separator lines: usually a failing case.
struct DoctestSection {
    std::string test_case;           ///< the "TEST CASE:" name, empty for other output
    std::vector<std::string> lines;  ///< paths relative to the root, blank lines squeezed
};

/// The summary and the sections.
struct DoctestReport {
    DoctestSummary summary;
    std::vector<DoctestSection> sections;
};

/// Reads `output`, making paths relative to `root`. The fallback of read_doctest_results,
/// for a program that wrote no results file.
DoctestReport read_doctest_output(std::string_view output, std::string_view root);

/// Reads the results file that common/testing/doctest_main.cpp writes when TUTOR_RESULTS names
/// it (one JSON object a line, its format described there), making paths relative to `root`.
/// Nothing when `text` holds no result of format 1. A line cut short (the program died while
/// writing it) is ignored; without the closing summary, `summary.found` is false.
std::optional<DoctestReport> read_doctest_results(std::string_view text, std::string_view root);

/// What to print of `report`: the first `full_cases` sections in full, then one line per
/// other failing case, at most `max_lines` lines in all (the last saying what was left out).
std::vector<std::string> failure_lines(const DoctestReport& report, std::size_t full_cases = 3,
                                       std::size_t max_lines = 50);

}  // namespace tutor
