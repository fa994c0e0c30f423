// doctest output reading (see doctest_report.hpp).
#include "doctest_report.hpp"

#include <cctype>

#include "json.hpp"
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

std::optional<DoctestReport> read_doctest_results(std::string_view text, std::string_view root) {
    DoctestReport report;
    DoctestSection section;  // the current case's, kept if the case fails
    bool format_known = false;
    auto number = [](const Json& object, std::string_view key) {
        const Json* value = object.find(key);
        return value != nullptr && value->kind == Json::Kind::number
                   ? static_cast<int>(value->number)
                   : 0;
    };
    auto where = [&root](const Json& object) {
        const Json* line = object.find("line");
        const int n = line != nullptr ? static_cast<int>(line->number) : 0;
        return relative_to_root(object.string_or("file", "?"), root) + ":" + std::to_string(n) +
               ":";
    };
    for (const auto line : split_lines(text)) {
        Json event;
        try {
            event = parse_json(line);
        } catch (const JsonError&) {
            continue;  // cut short by a crash
        }
        const std::string kind = event.string_or("event", "");
        if (kind == "case") {
            if (number(event, "format") != 1) return std::nullopt;
            format_known = true;
            section = {};
            section.test_case = event.string_or("name", "");
            section.lines = {where(event), "TEST CASE:  " + section.test_case};
        } else if (kind == "failure") {
            section.lines.emplace_back();
            section.lines.push_back(
                clip_line(where(event) + " " + event.string_or("severity", "ERROR") + ": " +
                              relative_to_root(event.string_or("expression", ""), root) +
                              (event.find("threw") != nullptr
                                   ? " THREW exception: \"" + event.string_or("threw", "") + "\""
                                   : " is NOT correct!"),
                          line_width));
            if (event.find("values") != nullptr)
                section.lines.push_back(
                    clip_line("  values: " + event.string_or("values", ""), line_width));
            if (const Json* logged = event.find("logged"); logged != nullptr) {
                for (const Json& message : logged->items)
                    section.lines.push_back(clip_line("  logged: " + message.string, line_width));
            }
        } else if (kind == "exception") {
            section.lines.emplace_back();
            section.lines.push_back(
                clip_line(std::string(event.find("crash") != nullptr && event.find("crash")->boolean
                                          ? "the test case crashed: "
                                          : "the test case threw an exception: ") +
                              event.string_or("text", ""),
                          line_width));
        } else if (kind == "case_end") {
            const Json* failed = event.find("failed");
            if (failed != nullptr && failed->boolean) report.sections.push_back(std::move(section));
            section = {};
        } else if (kind == "summary") {
            report.summary.found = true;
            report.summary.cases = number(event, "cases");
            report.summary.cases_failed = number(event, "cases_failed");
            report.summary.cases_passed = report.summary.cases - report.summary.cases_failed;
            report.summary.assertions = number(event, "assertions");
            report.summary.assertions_failed = number(event, "assertions_failed");
            report.summary.assertions_passed =
                report.summary.assertions - report.summary.assertions_failed;
        }
    }
    if (!format_known) return std::nullopt;
    // A case that never ended: the program died inside it, which makes it the one to show.
    if (!section.test_case.empty()) report.sections.push_back(std::move(section));
    return report;
}

}  // namespace tutor
