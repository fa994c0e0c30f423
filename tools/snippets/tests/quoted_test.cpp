// Tests of the quoted-output checks: output and options comments found in Markdown, lines
// compared with measurements masked, and option tables held to a program's --help.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "quoted.hpp"

namespace {

const std::string chapter_text = R"(# A chapter

<!-- options: chapters/01/demo -->
| option | default | meaning |
|---|---|---|
| `-t`, `--tasks` | 3 | number of tasks (1 to 1,000) |
| `--min-ms`, `--max-ms` | 10, 300 | a range |
| `-q`, `--quiet` | off | print only the summary |

<!-- output: chapters/01/demo --tasks 2 | varies: sleeps, wall | excerpt -->
```text
[ 0.150 s] task 0: step 1 of 4
sleeps        12
```

````markdown
<!-- output: an/example/inside/a/block -->
```text
```
````
)";

const std::string help = R"(Chapter 1. Runs TASKS tasks.
Usage: demo [OPTIONS]

Options:
  -h,--help                   Print this help message and exit
  -t,--tasks INT:INT in [1 - 1000]=3
                              number of tasks
  --min-ms INT=10             shortest, in ms (a = b)
  --max-ms INT=300            longest
  -q,--quiet                  print only the summary
)";

snippets::OutputBlock block_of(std::vector<std::string> content,
                               std::vector<std::string> varies = {}, bool excerpt = false) {
    snippets::OutputBlock block;
    block.marker_line = 1;
    block.program = "demo";
    block.varies = std::move(varies);
    block.excerpt = excerpt;
    block.content = std::move(content);
    return block;
}

}  // namespace

TEST_SUITE("quoted") {
    TEST_CASE("output and options comments are found, and comments inside code blocks are not") {
        const auto scan = snippets::scan_quoted("ch.md", chapter_text);
        CHECK(scan.problems.empty());
        REQUIRE(scan.outputs.size() == 1);
        const auto& out = scan.outputs[0];
        CHECK(out.program == "chapters/01/demo");
        CHECK(out.args == std::vector<std::string>{"--tasks", "2"});
        CHECK(out.varies == std::vector<std::string>{"sleeps", "wall"});
        CHECK(out.excerpt);
        CHECK(out.marker_line == 10);
        CHECK(out.content.size() == 2);

        REQUIRE(scan.tables.size() == 1);
        const auto& table = scan.tables[0];
        CHECK(table.program == "chapters/01/demo");
        REQUIRE(table.rows.size() == 3);  // header and separator rows are skipped
        CHECK(table.rows[0].names == std::vector<std::string>{"-t", "--tasks"});
        CHECK(table.rows[0].default_text == "3");
        CHECK(table.rows[0].line == 6);
        CHECK(table.rows[1].default_text == "10, 300");
    }

    TEST_CASE("a malformed comment or one with nothing after it is reported at its line") {
        const auto scan = snippets::scan_quoted(
            "ch.md",
            "<!-- output: demo | sometimes -->\n```\n```\n\n<!-- options: -->\n"
            "<!-- output: demo -->\nno block\n");
        REQUIRE(scan.problems.size() == 3);
        CHECK(scan.problems[0].line == 1);
        CHECK(scan.problems[1].line == 5);
        CHECK(scan.problems[2].line == 6);
        CHECK(scan.outputs.empty());
    }

    TEST_CASE("measurements become # and counts the defaults decide stay") {
        CHECK(snippets::comparable("[ 0.150 s] task 0: step 1 of 4", {}) ==
              "[ # s] task 0: step 1 of 4");
        CHECK(snippets::comparable("35,291,190 polls in all to complete 3 tasks", {}) ==
              "# polls in all to complete 3 tasks");
        CHECK(snippets::comparable("CPU time 1.00 s (100% of one core).", {}) ==
              "CPU time # s (#% of one core).");
        CHECK(snippets::comparable("all      9,382,983       15", {}) == "all # 15");
        CHECK(snippets::comparable("executor sleeps   390   289", {"executor sleeps"}) ==
              "executor sleeps # #");
        CHECK(snippets::comparable("12 polls, the executor slept 43 times", {"slept"}) ==
              "# polls, the executor slept # times");
        CHECK(snippets::comparable("step 3.", {}) == "step 3.");  // a full stop is not a decimal
    }

    TEST_CASE("an output that differs only in measurements, widths and order matches") {
        const auto block = block_of(
            {"task   polls", "0   7,071,960", "1  10,575,052", "", "sleeps 12"}, {"sleeps"});
        const std::string printed = "task polls\n1 9,000\n0 12,345,678\nsleeps 11\n";
        CHECK(snippets::compare_output("ch.md", block, printed).empty());
    }

    TEST_CASE("a count that differs is reported with both lines") {
        const auto block = block_of({"3 tasks of 4 steps", "done"});
        const auto problems =
            snippets::compare_output("ch.md", block, "3 tasks of 5 steps\ndone\n");
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].line == 1);
        const auto& d = problems[0].details;
        CHECK(std::find(d.begin(), d.end(), "- 3 tasks of 4 steps") != d.end());
        CHECK(std::find(d.begin(), d.end(), "+ 3 tasks of 5 steps") != d.end());
    }

    TEST_CASE("an output with more lines than the block fails unless the block is an excerpt") {
        const std::string printed = "a 1\nb 2\nc 3\n";
        CHECK(snippets::compare_output("ch.md", block_of({"a 1", "c 3"}), printed).size() == 1);
        CHECK(
            snippets::compare_output("ch.md", block_of({"a 1", "c 3"}, {}, true), printed).empty());
        // An excerpt's lines must still all be printed, each line once.
        CHECK(
            snippets::compare_output("ch.md", block_of({"a 1", "a 1"}, {}, true), printed).size() ==
            1);
    }

    TEST_CASE("option defaults and ranges that agree with --help pass") {
        const auto scan = snippets::scan_quoted("ch.md", chapter_text);
        REQUIRE(scan.tables.size() == 1);
        CHECK(snippets::compare_options("ch.md", scan.tables[0], help).empty());
    }

    TEST_CASE("a default, a range or an option the program lacks is reported at its row") {
        const std::string text =
            "<!-- options: demo -->\n"
            "| `-t`, `--tasks` | 4 | tasks (1 to 100) |\n"
            "| `--min-ms`, `--max-ms` | 10 | one default for two |\n"
            "| `--gone` | 1 | removed |\n"
            "| `-q`, `--quiet` | 1 | a flag has no default |\n";
        const auto scan = snippets::scan_quoted("ch.md", text);
        REQUIRE(scan.tables.size() == 1);
        const auto problems = snippets::compare_options("ch.md", scan.tables[0], help);
        REQUIRE(problems.size() == 5);
        CHECK(problems[0].line == 2);  // the default of --tasks
        CHECK(problems[0].message.find("3") != std::string::npos);
        CHECK(problems[1].line == 2);  // its range
        CHECK(problems[1].message.find("1 to 1000") != std::string::npos);
        CHECK(problems[2].line == 3);
        CHECK(problems[3].line == 4);
        CHECK(problems[3].message.find("no option --gone") != std::string::npos);
        CHECK(problems[4].line == 5);
    }
}
