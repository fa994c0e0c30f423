// doctest output reading (see doctest_report.hpp).
#include "doctest_report.hpp"

#include <cctype>

#include "source_paths.hpp"

namespace tutor {

namespace {

constexpr std::size_t line_width = 300;

/// The numbers in "5 | 3 passed | 2 failed | 0 skipped", in order.
std::vector<int> numbers_in(std::string_view s) {
    std::vector<int> numbers;
    std::size_t i = 0;
    while (i < s.size()) {
        if (std::isdigit(static_cast<unsigned char>(s[i]))) {
            int n = 0;
            while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
                n = n * 10 + (s[i++] - '0');
            numbers.push_back(n);
        } else {
            ++i;
        }
    }
    return numbers;
}

bool is_separator(std::string_view line) {
    return line.size() >= 20 && line.find_first_not_of('=') == std::string_view::npos;
}

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t") == std::string_view::npos;
}

void close_section(DoctestReport& report, DoctestSection& section) {
    while (!section.lines.empty() && section.lines.back().empty()) section.lines.pop_back();
    if (!section.lines.empty()) report.sections.push_back(std::move(section));
    section = {};
}

}  // namespace

DoctestReport read_doctest_output(std::string_view output, std::string_view root) {
    DoctestReport report;
    DoctestSection section;
    for (const auto line : split_lines(output)) {
        if (line.starts_with("[doctest] test cases:")) {
            const auto n = numbers_in(line.substr(21));
            if (n.size() >= 3) {
                report.summary.found = true;
                report.summary.cases = n[0];
                report.summary.cases_passed = n[1];
                report.summary.cases_failed = n[2];
            }
            continue;
        }
        if (line.starts_with("[doctest] assertions:")) {
            const auto n = numbers_in(line.substr(21));
            if (n.size() >= 3) {
                report.summary.assertions = n[0];
                report.summary.assertions_passed = n[1];
                report.summary.assertions_failed = n[2];
            }
            continue;
        }
        if (line.starts_with("[doctest] ")) continue;  // banner, "Status: ..."
        if (is_separator(line)) {
            close_section(report, section);
            continue;
        }
        if (line.starts_with("TEST SUITE: ")) continue;  // the case's name says enough
        if (line.starts_with("TEST CASE:")) {
            std::string_view name = line.substr(10);
            while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
            section.test_case = std::string(name);
        }
        if (is_blank(line)) {
            if (!section.lines.empty() && !section.lines.back().empty())
                section.lines.emplace_back();
            continue;
        }
        section.lines.push_back(clip_line(relative_to_root(line, root), line_width));
    }
    close_section(report, section);
    return report;
}

std::vector<std::string> failure_lines(const DoctestReport& report, std::size_t full_cases,
                                       std::size_t max_lines) {
    std::vector<std::string> lines;
    std::vector<std::string> others;  // names of the failing cases not shown in full
    std::size_t shown = 0;
    for (const auto& section : report.sections) {
        if (shown < full_cases || section.test_case.empty()) {
            if (!lines.empty()) lines.emplace_back();
            lines.insert(lines.end(), section.lines.begin(), section.lines.end());
            if (!section.test_case.empty()) ++shown;
        } else {
            others.push_back(section.test_case);
        }
    }
    if (!others.empty()) {
        lines.emplace_back();
        lines.push_back(std::to_string(others.size()) + " more failing test case" +
                        (others.size() == 1 ? "" : "s") + ":");
        for (const auto& name : others) lines.push_back("  " + name);
    }
    if (lines.size() > max_lines) {
        const std::size_t left_out = lines.size() - (max_lines - 1);
        lines.resize(max_lines - 1);
        lines.push_back("... (" + std::to_string(left_out) + " more lines)");
    }
    return lines;
}

}  // namespace tutor
