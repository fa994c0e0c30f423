// Counting the results meson records in meson-logs/testlog.json, and finding the tests of a
// suite in `meson introspect --tests`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

// testlog.json holds one JSON object per line; its "result" is one of OK, EXPECTEDFAIL, FAIL,
// UNEXPECTEDPASS, TIMEOUT, SKIP, ERROR.

namespace tutor {

/// What one build's test run came to.
struct TestCounts {
    int passed = 0;                     ///< OK and EXPECTEDFAIL
    int skipped = 0;                    ///< SKIP: a test that found what it needs missing
    int failed = 0;                     ///< everything else, including unreadable lines
    std::vector<std::string> failures;  ///< "name (RESULT)" of each failed test
    std::vector<std::string> skips;     ///< the name of each skipped test

    TestCounts& operator+=(const TestCounts& other);
};

/// Counts the results of a testlog.json's lines; blank lines are ignored.
TestCounts count_test_results(std::string_view testlog);

/// A test meson knows about.
struct SuiteTest {
    std::string name;
    std::string program;  ///< the command's first word: the test executable
};

/// The tests in `suite` ("threads" matches "project:threads" too), read from the JSON
/// array `meson introspect --tests` prints.
std::vector<SuiteTest> tests_in_suite(std::string_view introspect_tests, std::string_view suite);

}  // namespace tutor
