// Tests of trimming a failed build's output to the first compiler errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "compiler_errors.hpp"
#include "source_paths.hpp"

namespace {

// What ninja prints when an exercise does not compile (gcc 12, run in build/).
const std::string gcc_failure =
    "[1/2] Compiling C++ object exercises/ex-01-01.p/01-naive-executor_01-join-all_test.cpp.o\n"
    "FAILED: exercises/ex-01-01.p/01-naive-executor_01-join-all_test.cpp.o \n"
    "c++ -Iexercises/ex-01-01.p -I../exercises/01-naive-executor/01-join-all -std=c++20 -c "
    "../exercises/01-naive-executor/01-join-all/test.cpp\n"
    "In file included from ../exercises/01-naive-executor/01-join-all/test.cpp:1:\n"
    "../exercises/01-naive-executor/01-join-all/join_all.hpp: In function \xe2\x80\x98int "
    "answer()\xe2\x80\x99:\n"
    "../exercises/01-naive-executor/01-join-all/join_all.hpp:4:30: error: "
    "\xe2\x80\x98missing_name\xe2\x80\x99 was not declared in this scope\n"
    "    4 | inline int answer() { return missing_name; }\n"
    "      |                              ^~~~~~~~~~~~\n"
    "../exercises/01-naive-executor/01-join-all/join_all.hpp:6:6: warning: unused variable "
    "\xe2\x80\x98x\xe2\x80\x99 [-Wunused-variable]\n"
    "    6 |  int x;\n"
    "      |      ^\n"
    "../exercises/01-naive-executor/01-join-all/join_all.hpp: In instantiation of \xe2\x80\x98int "
    "total(const std::vector<T>&) [with T = int]\xe2\x80\x99:\n"
    "../exercises/01-naive-executor/01-join-all/test.cpp:2:49:   required from here\n"
    "../exercises/01-naive-executor/01-join-all/join_all.hpp:3:93: error: request for member "
    "\xe2\x80\x98size\xe2\x80\x99 in \xe2\x80\x98x\xe2\x80\x99\n"
    "    3 | template <class T> int total(const std::vector<T>& v) { return v[0].size(); }\n"
    "      |                                                                 ~~^~~~\n"
    "/usr/include/c++/12/bits/stl_vector.h:10:1: note: declared here\n"
    "ninja: build stopped: subcommand failed.\n";

bool has_line(const std::vector<std::string>& lines, const std::string& text) {
    return std::find(lines.begin(), lines.end(), text) != lines.end();
}

bool mentions(const std::vector<std::string>& lines, const std::string& part) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const auto& l) { return l.find(part) != std::string::npos; });
}

}  // namespace

TEST_SUITE("compiler errors") {
    TEST_CASE("each error comes with the lines that locate it and its source excerpt") {
        const auto errors = tutor::trim_compiler_errors(gcc_failure, "/work/project");
        CHECK(errors.total == 2);
        CHECK(errors.shown == 2);
        REQUIRE(errors.lines.size() >= 6);
        CHECK(errors.lines[0] ==
              "In file included from exercises/01-naive-executor/01-join-all/test.cpp:1:");
        CHECK(errors.lines[1].starts_with(
            "exercises/01-naive-executor/01-join-all/join_all.hpp: In function"));
        CHECK(errors.lines[2].starts_with(
            "exercises/01-naive-executor/01-join-all/join_all.hpp:4:30: error:"));
        CHECK(errors.lines[3] == "    4 | inline int answer() { return missing_name; }");
        CHECK(has_line(
            errors.lines,
            "exercises/01-naive-executor/01-join-all/test.cpp:2:49:   required from here"));
        CHECK(has_line(errors.lines,
                       "/usr/include/c++/12/bits/stl_vector.h:10:1: note: declared here"));
    }

    TEST_CASE("ninja's progress, the failed command and warnings are left out") {
        const auto errors = tutor::trim_compiler_errors(gcc_failure, "/work/project");
        CHECK_FALSE(mentions(errors.lines, "[1/2]"));
        CHECK_FALSE(mentions(errors.lines, "FAILED"));
        CHECK_FALSE(mentions(errors.lines, "c++ -I"));
        CHECK_FALSE(mentions(errors.lines, "ninja:"));
        CHECK_FALSE(mentions(errors.lines, "warning"));
        CHECK_FALSE(mentions(errors.lines, "int x;"));
    }

    TEST_CASE("only the first errors are shown, within the line limit") {
        std::string many;
        for (int i = 1; i <= 10; ++i) {
            many +=
                "../a.hpp:" + std::to_string(i) + ":1: error: number " + std::to_string(i) + "\n";
            many += "    " + std::to_string(i) + " | code\n      | ^\n";
        }
        const auto three = tutor::trim_compiler_errors(many, "/r");
        CHECK(three.total == 10);
        CHECK(three.shown == 3);
        CHECK(three.lines.size() == 9);
        const auto capped = tutor::trim_compiler_errors(many, "/r", 10, 5);
        CHECK(capped.shown == 1);  // a second error would not fit with its excerpt
        CHECK(capped.lines.size() == 3);
    }

    TEST_CASE("notes located in another file stay with their error") {
        const auto errors = tutor::trim_compiler_errors(
            "../a.hpp:28:20: error: no matching function for call to 'Poll<int>::Poll(x)'\n"
            "   28 |   return Poll<int>{x};\n"
            "In file included from ../common/include/rt/future.hpp:18,\n"
            "                 from ../a.hpp:10:\n"
            "../common/include/rt/poll.hpp:25:5: note: candidate: 'Poll(T)'\n"
            "../b.hpp:1:1: error: second\n",
            "/r");
        REQUIRE(errors.total == 2);
        const std::vector<std::string> expected{
            "a.hpp:28:20: error: no matching function for call to 'Poll<int>::Poll(x)'",
            "   28 |   return Poll<int>{x};",
            "In file included from common/include/rt/future.hpp:18,",
            "                 from a.hpp:10:",
            "common/include/rt/poll.hpp:25:5: note: candidate: 'Poll(T)'",
            "b.hpp:1:1: error: second",
        };
        CHECK(errors.lines == expected);
    }

    TEST_CASE("an error's context and notes are capped, keeping the context nearest to it") {
        std::string output;
        for (int i = 0; i < 10; ++i)
            output += "../t.cpp:" + std::to_string(i) + ":1:   required from 'f" +
                      std::to_string(i) + "'\n";
        output += "../t.cpp:99:1: error: the error\n";
        for (int i = 0; i < 20; ++i)
            output += "../t.cpp:1:1: note: candidate " + std::to_string(i) + "\n";
        const auto errors = tutor::trim_compiler_errors(output, "/r");
        REQUIRE(errors.lines.size() == 5 + 1 + 8);
        CHECK(errors.lines[0] == "t.cpp:5:1:   required from 'f5'");
        CHECK(errors.lines[5] == "t.cpp:99:1: error: the error");
        CHECK(errors.lines.back() == "t.cpp:1:1: note: candidate 7");
    }

    TEST_CASE("an error repeated for another template instantiation is shown once") {
        const auto errors = tutor::trim_compiler_errors(
            "../t.cpp:3:1:   required from here\n../a.hpp:9:2: error: bad\n"
            "../t.cpp:7:1:   required from here\n../a.hpp:9:2: error: bad\n"
            "../a.hpp:12:2: error: other\n",
            "/r");
        CHECK(errors.total == 3);
        CHECK(errors.shown == 2);
        CHECK(errors.lines == std::vector<std::string>{"t.cpp:3:1:   required from here",
                                                       "a.hpp:9:2: error: bad",
                                                       "a.hpp:12:2: error: other"});
    }

    TEST_CASE("linker errors count as errors") {
        const auto errors = tutor::trim_compiler_errors(
            "/usr/bin/ld: exercises/ex.p/test.cpp.o: in function `main':\n"
            "test.cpp:(.text+0x1d): undefined reference to `join_all()'\n"
            "collect2: error: ld returned 1 exit status\n",
            "/r");
        CHECK(errors.total == 1);
        REQUIRE(errors.lines.size() == 2);
        CHECK(errors.lines[1].find("undefined reference to `join_all()'") != std::string::npos);
    }

    TEST_CASE("output without a recognisable error is shown as its last lines") {
        const auto errors = tutor::trim_compiler_errors(
            "[0/1] Regenerating build files.\nmeson.build:3:0: ERROR: File test.cpp does not "
            "exist.\n"
            "ninja: error: rebuilding 'build.ninja': subcommand failed\n",
            "/r", 3, 25);
        CHECK(errors.total == 0);
        CHECK(errors.lines ==
              std::vector<std::string>{"meson.build:3:0: ERROR: File test.cpp does not exist."});
    }

    TEST_CASE("paths are made relative to the project root") {
        CHECK(tutor::relative_to_root("/work/project/exercises/a.hpp:1:2: error: x",
                                      "/work/project") == "exercises/a.hpp:1:2: error: x");
        CHECK(tutor::relative_to_root("In file included from ../common/include/rt/poll.hpp:3,",
                                      "/r") ==
              "In file included from common/include/rt/poll.hpp:3,");
        CHECK(tutor::relative_to_root("/usr/include/vector:1: note", "/work/project") ==
              "/usr/include/vector:1: note");
        CHECK(tutor::relative_to_root("x = a../b", "/r") == "x = a../b");
        CHECK(tutor::relative_to_root("/work/projectile/a.hpp", "/work/project") ==
              "/work/projectile/a.hpp");
    }

    TEST_CASE("very long lines are clipped") {
        CHECK(tutor::clip_line("abcdefghij", 6) == "abc...");
        CHECK(tutor::clip_line("abc", 6) == "abc");
    }
}
