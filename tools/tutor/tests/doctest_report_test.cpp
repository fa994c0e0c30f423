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

TEST_SUITE("doctest results file") {
    const std::string failing_case =
        R"j({"format":1,"event":"case","name":"a pass","file":"../exercises/t.cpp","line":3})j"
        "\n"
        R"j({"event":"case_end","name":"a pass","failed":false,"assertions":2,"assertions_failed":0})j"
        "\n"
        R"j({"format":1,"event":"case","name":"join","file":"../exercises/t.cpp","line":10})j"
        "\n"
        R"j({"event":"failure","case":"join","file":"../exercises/t.cpp","line":12,"severity":"ERROR","expression":"CHECK( a == b )","values":"CHECK( 1 == 2 )","logged":["a is 1"]})j"
        "\n"
        R"j({"event":"case_end","name":"join","failed":true,"assertions":1,"assertions_failed":1})j"
        "\n";

    TEST_CASE("a failing case becomes a section with its failures, paths from the root") {
        const auto report = tutor::read_doctest_results(
            failing_case +
                R"j({"event":"summary","cases":2,"cases_failed":1,"assertions":3,"assertions_failed":1})j"
                "\n",
            "/root");
        REQUIRE(report.has_value());
        CHECK(report->summary.found);
        CHECK(report->summary.cases == 2);
        CHECK(report->summary.cases_passed == 1);
        CHECK(report->summary.cases_failed == 1);
        CHECK(report->summary.assertions_failed == 1);
        REQUIRE(report->sections.size() == 1);
        CHECK(report->sections[0].test_case == "join");
        const std::vector<std::string> expected{
            "exercises/t.cpp:10:",
            "TEST CASE:  join",
            "",
            "exercises/t.cpp:12: ERROR: CHECK( a == b ) is NOT correct!",
            "  values: CHECK( 1 == 2 )",
            "  logged: a is 1"};
        CHECK(report->sections[0].lines == expected);
    }

    TEST_CASE("a program that died in a case: no summary, the case that never ended shown") {
        const auto report = tutor::read_doctest_results(
            failing_case +
                R"j({"format":1,"event":"case","name":"crashes","file":"../exercises/t.cpp","line":20})j"
                "\n"
                R"j({"event":"failure","case":"crashes","file":"../exer)j",  // cut by the crash
            "");
        REQUIRE(report.has_value());
        CHECK_FALSE(report->summary.found);
        REQUIRE(report->sections.size() == 2);
        CHECK(report->sections[1].test_case == "crashes");
    }

    TEST_CASE("an exception or a crash inside a case is reported with its text") {
        const auto report = tutor::read_doctest_results(
            R"j({"format":1,"event":"case","name":"throws","file":"t.cpp","line":1})j"
            "\n"
            R"j({"event":"exception","case":"throws","text":"bad_alloc","crash":false})j"
            "\n"
            R"j({"event":"case_end","name":"throws","failed":true,"assertions":0,"assertions_failed":0})j"
            "\n",
            "");
        REQUIRE(report.has_value());
        REQUIRE(report->sections.size() == 1);
        CHECK(report->sections[0].lines.back() == "the test case threw an exception: bad_alloc");
    }

    TEST_CASE("an empty file, or a format it does not know, gives nothing") {
        CHECK_FALSE(tutor::read_doctest_results("", "").has_value());
        CHECK_FALSE(tutor::read_doctest_results("not json\n", "").has_value());
        CHECK_FALSE(tutor::read_doctest_results(
                        R"j({"format":2,"event":"case","name":"x","file":"t.cpp","line":1})j"
                        "\n",
                        "")
                        .has_value());
    }
}
