// Tests of reading a doctest program's output: its summary and its failing cases.
#include <doctest/doctest.h>

#include "doctest_report.hpp"

namespace {

const std::string separator(79, '=');

/// doctest's report of a failing case, as the exercise tests print it.
std::string failing_case(int line, const std::string& name) {
    const std::string file = "../exercises/01-naive-executor/01-join-all/test.cpp:";
    return separator + "\n" + file + std::to_string(line) +
           ":\nTEST SUITE: join_all\nTEST CASE:  " + name + "\n\n" + file +
           std::to_string(line + 3) +
           ": ERROR: CHECK( done ) is NOT correct!\n  values: CHECK( false )\n\n";
}

std::string failing_run(int failures) {
    std::string output =
        "[doctest] doctest version is \"2.4.9\"\n[doctest] run with \"--help\" for options\n";
    for (int i = 1; i <= failures; ++i) output += failing_case(10 * i, "case " + std::to_string(i));
    output += separator + "\n[doctest] test cases:  5 |  3 passed | " + std::to_string(failures) +
              " failed | 0 skipped\n"
              "[doctest] assertions: 14 | 12 passed | 2 failed |\n[doctest] Status: FAILURE!\n";
    return output;
}

}  // namespace

TEST_SUITE("doctest report") {
    TEST_CASE("the summary gives the counts of test cases and assertions") {
        const auto report = tutor::read_doctest_output(failing_run(2), "/r");
        CHECK(report.summary.found);
        CHECK(report.summary.cases == 5);
        CHECK(report.summary.cases_passed == 3);
        CHECK(report.summary.cases_failed == 2);
        CHECK(report.summary.assertions == 14);
        CHECK(report.summary.assertions_passed == 12);
        CHECK(report.summary.assertions_failed == 2);
    }

    TEST_CASE(
        "each failing case is a section, with root-relative paths and without banner or suite") {
        const auto report = tutor::read_doctest_output(failing_run(2), "/r");
        REQUIRE(report.sections.size() == 2);
        CHECK(report.sections[1].test_case == "case 2");
        const std::vector<std::string> expected{
            "exercises/01-naive-executor/01-join-all/test.cpp:10:",
            "TEST CASE:  case 1",
            "",
            "exercises/01-naive-executor/01-join-all/test.cpp:13: ERROR: CHECK( done ) is NOT "
            "correct!",
            "  values: CHECK( false )",
        };
        CHECK(report.sections[0].lines == expected);
    }

    TEST_CASE("the first failing cases are shown in full, the others by name") {
        const auto lines =
            tutor::failure_lines(tutor::read_doctest_output(failing_run(5), "/r"), 2);
        REQUIRE(lines.size() == 5 + 1 + 5 + 1 + 1 + 3);
        CHECK(lines[1] == "TEST CASE:  case 1");
        CHECK(lines[7] == "TEST CASE:  case 2");
        CHECK(lines[12] == "3 more failing test cases:");
        CHECK(lines[13] == "  case 3");
        CHECK(lines[15] == "  case 5");
    }

    TEST_CASE("the lines to print stay within the limit and say how many were left out") {
        const auto lines =
            tutor::failure_lines(tutor::read_doctest_output(failing_run(5), "/r"), 5, 10);
        REQUIRE(lines.size() == 10);
        CHECK(lines.back() == "... (20 more lines)");
    }

    TEST_CASE("a passing run leaves nothing to show") {
        const auto report = tutor::read_doctest_output(
            "[doctest] doctest version is \"2.4.9\"\n[doctest] run with \"--help\" for options\n" +
                separator +
                "\n[doctest] test cases: 2 | 2 passed | 0 failed | 0 skipped\n"
                "[doctest] assertions: 7 | 7 passed | 0 failed |\n[doctest] Status: SUCCESS!\n",
            "/r");
        CHECK(report.sections.empty());
        CHECK(tutor::failure_lines(report).empty());
        CHECK(report.summary.cases == 2);
        CHECK(report.summary.assertions_passed == 7);
    }

    TEST_CASE("a run that crashed has no summary but keeps its output") {
        const auto report = tutor::read_doctest_output(
            "[doctest] doctest version is \"2.4.9\"\nstarting\n" + separator +
                "\n/r/exercises/a/test.cpp:3:\nTEST CASE:  x\n\n/r/exercises/a/test.cpp:3: ERROR: "
                "test case CRASHED: SIGSEGV\n",
            "/r");
        CHECK_FALSE(report.summary.found);
        const auto lines = tutor::failure_lines(report);
        const std::vector<std::string> expected{
            "starting",      "", "exercises/a/test.cpp:3:",
            "TEST CASE:  x", "", "exercises/a/test.cpp:3: ERROR: test case CRASHED: SIGSEGV"};
        CHECK(lines == expected);
    }
}
