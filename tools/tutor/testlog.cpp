// testlog.json counting and suite lookup (see testlog.hpp).
#include "testlog.hpp"

#include "json.hpp"

namespace tutor {

TestCounts& TestCounts::operator+=(const TestCounts& other) {
    passed += other.passed;
    skipped += other.skipped;
    failed += other.failed;
    failures.insert(failures.end(), other.failures.begin(), other.failures.end());
    skips.insert(skips.end(), other.skips.begin(), other.skips.end());
    return *this;
}

TestCounts count_test_results(std::string_view testlog) {
    TestCounts counts;
    std::size_t line_number = 0;
    while (!testlog.empty()) {
        const auto end = testlog.find('\n');
        const std::string_view line = testlog.substr(0, end);
        testlog.remove_prefix(end == std::string_view::npos ? testlog.size() : end + 1);
        ++line_number;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
        try {
            const Json entry = parse_json(line);
            const std::string result = entry.string_or("result", "(no result)");
            if (result == "OK" || result == "EXPECTEDFAIL") {
                ++counts.passed;
            } else if (result == "SKIP") {  // exit code 77: e.g. the fuzz run without clang
                ++counts.skipped;
                counts.skips.push_back(entry.string_or("name", "(unnamed test)"));
            } else {
                ++counts.failed;
                counts.failures.push_back(entry.string_or("name", "(unnamed test)") + " (" +
                                          result + ")");
            }
        } catch (const JsonError&) {
            ++counts.failed;
            counts.failures.push_back("unreadable testlog line " + std::to_string(line_number));
        }
    }
    return counts;
}

std::vector<SuiteTest> tests_in_suite(std::string_view introspect_tests, std::string_view suite) {
    const Json tests = parse_json(introspect_tests);
    std::vector<SuiteTest> found;
    const std::string qualified_suffix = ":" + std::string(suite);
    for (const auto& test : tests.items) {
        const Json* suites = test.find("suite");
        if (!suites) continue;
        for (const auto& s : suites->items) {
            if (s.string == suite || s.string.ends_with(qualified_suffix)) {
                const Json* cmd = test.find("cmd");
                const bool has_program =
                    cmd && !cmd->items.empty() && cmd->items[0].kind == Json::Kind::string;
                found.push_back({test.string_or("name", "(unnamed test)"),
                                 has_program ? cmd->items[0].string : ""});
                break;
            }
        }
    }
    return found;
}

}  // namespace tutor
