// Tests of finding a sanitizer's report in a test program's output.
#include <doctest/doctest.h>

#include <string>

#include "sanitizer_report.hpp"
#include "testing/printing.hpp"

using tutor::sanitizer_report;

TEST_SUITE("sanitizer report") {
    TEST_CASE("a ThreadSanitizer report is found from the line that announces it") {
        const std::string output =
            "[doctest] doctest version is 2.4.9\n"
            "==================\n"
            "WARNING: ThreadSanitizer: data race (pid=42)\n"
            "  Write of size 8 at 0x7b04 by thread T1:\n"
            "    #0 ex::Wake::fire /home/me/rt/exercises/02-wakers/01-wake-once/wake.hpp:31\n";
        const auto lines = sanitizer_report(output, "/home/me/rt");
        REQUIRE(lines.size() == 3);
        CHECK(lines[0] == "WARNING: ThreadSanitizer: data race (pid=42)");
        CHECK(lines[2] == "    #0 ex::Wake::fire exercises/02-wakers/01-wake-once/wake.hpp:31");
    }

    TEST_CASE("AddressSanitizer, LeakSanitizer and UBSan reports are found too") {
        CHECK(sanitizer_report("x\n==7==ERROR: AddressSanitizer: heap-use-after-free\n", "")
                  .front() == "==7==ERROR: AddressSanitizer: heap-use-after-free");
        CHECK(sanitizer_report("==7==ERROR: LeakSanitizer: detected memory leaks", "").front() ==
              "==7==ERROR: LeakSanitizer: detected memory leaks");
        CHECK(sanitizer_report("/r/a.cpp:3:5: runtime error: signed integer overflow\n", "/r")
                  .front() == "a.cpp:3:5: runtime error: signed integer overflow");
    }

    TEST_CASE("the first report counts, whichever sanitizer printed it") {
        const auto lines = sanitizer_report(
            "a.cpp:1:1: runtime error: x\nWARNING: ThreadSanitizer: data race\n", "");
        REQUIRE_FALSE(lines.empty());
        CHECK(lines.front() == "a.cpp:1:1: runtime error: x");
    }

    TEST_CASE("output without a report gives nothing") {
        CHECK(sanitizer_report("[doctest] Status: FAILURE!\nERROR: CHECK( a == b )\n", "").empty());
        CHECK(sanitizer_report("", "/root").empty());
    }

    TEST_CASE("a long report is cut at the limit") {
        std::string output = "WARNING: ThreadSanitizer: data race\n";
        for (int i = 0; i < 100; ++i) output += "    #" + std::to_string(i) + " frame\n";
        CHECK(sanitizer_report(output, "", 10).size() == 10);
        CHECK(sanitizer_report(output, "").size() == 40);
    }
}
