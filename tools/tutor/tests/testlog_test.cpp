// Tests of counting meson's test results (testlog.json) and of finding a suite's tests.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "testing/printing.hpp"
#include "testlog.hpp"

TEST_SUITE("testlog") {
    TEST_CASE("OK and EXPECTEDFAIL pass; SKIP is counted apart; every other result fails") {
        const auto counts = tutor::count_test_results(
            R"({"name": "p:chapters / chapter 01", "stdout": "result: FAIL\n\"result\": \"FAIL\"", "result": "OK"})"
            "\n"
            R"({"name": "p:starters / starter fails 01-01", "result": "EXPECTEDFAIL"})"
            "\n"
            R"({"name": "p:solutions / solution 01-01", "result": "FAIL"})"
            "\n"
            R"({"name": "p:starters / starter fails 01-02", "result": "UNEXPECTEDPASS"})"
            "\n"
            R"({"name": "slow", "result": "TIMEOUT"})"
            "\n"
            R"({"name": "skipped", "result": "SKIP"})"
            "\n"
            R"({"name": "broken", "result": "ERROR"})"
            "\n"
            "\n");
        CHECK(counts.passed == 2);
        CHECK(counts.skipped == 1);
        CHECK(counts.skips == std::vector<std::string>{"skipped"});
        CHECK(counts.failed == 4);
        REQUIRE(counts.failures.size() == 4);
        CHECK(counts.failures[0] == "p:solutions / solution 01-01 (FAIL)");
        CHECK(counts.failures[1] == "p:starters / starter fails 01-02 (UNEXPECTEDPASS)");
        CHECK(counts.failures[3] == "broken (ERROR)");
    }

    TEST_CASE("a test run several times (--repeat) counts every run, so one flaky run fails") {
        const auto counts =
            tutor::count_test_results(R"({"name": "p:chapters / chapter 02", "result": "OK"})"
                                      "\n"
                                      R"({"name": "p:chapters / chapter 02", "result": "TIMEOUT"})"
                                      "\n"
                                      R"({"name": "p:chapters / chapter 02", "result": "OK"})"
                                      "\n");
        CHECK(counts.passed == 2);
        CHECK(counts.failed == 1);
        CHECK(counts.failures == std::vector<std::string>{"p:chapters / chapter 02 (TIMEOUT)"});
    }

    TEST_CASE("an empty log counts nothing, an unreadable line counts as a failure") {
        CHECK(tutor::count_test_results("").passed == 0);
        CHECK(tutor::count_test_results("").failed == 0);
        const auto counts = tutor::count_test_results("{\"result\": \"OK\"}\n{not json\n");
        CHECK(counts.passed == 1);
        CHECK(counts.failed == 1);
        CHECK(counts.failures.at(0) == "unreadable testlog line 2");
    }

    TEST_CASE("counts from several builds add up") {
        auto total = tutor::count_test_results(R"({"name": "a", "result": "OK"})");
        total += tutor::count_test_results(R"({"name": "b", "result": "FAIL"})");
        total += tutor::count_test_results(R"({"name": "c", "result": "SKIP"})");
        CHECK(total.passed == 1);
        CHECK(total.failed == 1);
        CHECK(total.failures == std::vector<std::string>{"b (FAIL)"});
        CHECK(total.skipped == 1);
        CHECK(total.skips == std::vector<std::string>{"c"});
    }

    TEST_CASE("a suite's tests are found with or without the project prefix") {
        const char* introspect = R"([
            {"name": "common", "cmd": ["/r/build/common-tests"], "suite": ["proj:common", "proj:threads"]},
            {"name": "chapter 01", "cmd": ["/r/build/chapters/01/chapter-tests"], "suite": ["proj:chapters"]},
            {"name": "tsan only", "cmd": [], "suite": ["threads"]}
        ])";
        const auto tests = tutor::tests_in_suite(introspect, "threads");
        REQUIRE(tests.size() == 2);
        CHECK(tests[0].name == "common");
        CHECK(tests[0].program == "/r/build/common-tests");
        CHECK(tests[1].program.empty());
        CHECK(tutor::tests_in_suite(introspect, "docs").empty());
        CHECK(tutor::tests_in_suite(introspect, "read").empty());
    }
}
