// Tests of following ninja's status lines and of the estimate of the time left. The clock is
// the test's: every time point is made up, so nothing here depends on the machine's speed.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "build_progress.hpp"
#include "testing/printing.hpp"

using tutor::BuildProgress;
using namespace std::chrono_literals;

namespace {
const BuildProgress::Clock::time_point t0{};
}

TEST_SUITE("build progress") {
    TEST_CASE("a status line gives the finished and the total edges") {
        const auto status = BuildProgress::parse_status("[37/148] Compiling C++ object a.o");
        REQUIRE(status.has_value());
        CHECK(status->first == 37);
        CHECK(status->second == 148);
    }

    TEST_CASE("lines that are not a status are ignored") {
        CHECK_FALSE(BuildProgress::parse_status("").has_value());
        CHECK_FALSE(BuildProgress::parse_status("ninja: Entering directory `build'").has_value());
        CHECK_FALSE(BuildProgress::parse_status("../a.cpp:3:1: error: [x/y]").has_value());
        CHECK_FALSE(BuildProgress::parse_status("[3/] a").has_value());
        CHECK_FALSE(BuildProgress::parse_status("[a/4] a").has_value());
        CHECK_FALSE(BuildProgress::parse_status("[5/4] more finished than there are").has_value());
        CHECK_FALSE(BuildProgress::parse_status("[0/0] nothing").has_value());
        CHECK_FALSE(BuildProgress::parse_status("[1 2/4] a").has_value());
    }

    TEST_CASE("a line cut between two chunks is read once it is whole") {
        BuildProgress progress;
        CHECK(progress.feed("[1/10] Compiling a\n[2/1", t0));  // the first line only
        CHECK(progress.finished() == 1);
        CHECK(progress.feed("0] Compiling b\n", t0));
        CHECK(progress.finished() == 2);
        CHECK(progress.total() == 10);
    }

    TEST_CASE("compiler output between status lines leaves the count alone") {
        BuildProgress progress;
        progress.feed("[4/9] Compiling a\n../a.cpp:1:1: error: [1/2] is not a status here\n", t0);
        CHECK(progress.finished() == 4);
        CHECK(progress.total() == 9);
    }

    TEST_CASE("before the first status the line is empty") {
        const BuildProgress progress;
        CHECK(progress.line(t0) == "");
        CHECK_FALSE(progress.remaining(t0).has_value());
    }

    TEST_CASE("no estimate from too few edges or too little time") {
        BuildProgress progress;
        progress.feed("[1/100] a\n", t0);
        progress.feed("[2/100] b\n", t0 + 10s);
        CHECK_FALSE(progress.remaining(t0 + 10s).has_value());  // one edge since the first
        CHECK(progress.line(t0 + 10s) == "[2/100]");

        BuildProgress fast;
        fast.feed("[1/100] a\n", t0);
        fast.feed("[50/100] b\n", t0 + 1s);
        CHECK_FALSE(fast.remaining(t0 + 1s).has_value());  // one second measured
    }

    TEST_CASE("the estimate is the rate since the first status times the edges left") {
        BuildProgress progress;
        progress.feed("[10/110] a\n", t0 + 30s);  // 30 s of ninja reading files: not counted
        progress.feed("[20/110] b\n", t0 + 50s);  // 10 edges in 20 s: 2 s an edge
        const auto left = progress.remaining(t0 + 50s);
        REQUIRE(left.has_value());
        CHECK(left->count() == 180);  // 90 edges left
        CHECK(progress.line(t0 + 50s) == "[20/110], about 3 min left");
    }

    TEST_CASE("nothing is left to estimate once every edge finished") {
        BuildProgress progress;
        progress.feed("[1/5] a\n", t0);
        progress.feed("[5/5] b\n", t0 + 10s);
        CHECK_FALSE(progress.remaining(t0 + 10s).has_value());
        CHECK(progress.line(t0 + 10s) == "[5/5]");
    }

    TEST_CASE("durations are given in seconds below a minute, then in minutes") {
        CHECK(BuildProgress::describe(0s) == "1 s");
        CHECK(BuildProgress::describe(40s) == "40 s");
        CHECK(BuildProgress::describe(59s) == "59 s");
        CHECK(BuildProgress::describe(60s) == "1 min");
        CHECK(BuildProgress::describe(89s) == "1 min");
        CHECK(BuildProgress::describe(90s) == "2 min");
        CHECK(BuildProgress::describe(600s) == "10 min");
    }
}
