// Tests of the snippet checker's logic: regions in sources, snippet blocks in Markdown, and
// the check and rewrite of one against the other, with an in-memory file system.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "snippets.hpp"

using Lines = std::vector<std::string>;

// Lets doctest print the lines of a failed comparison.
template <>
struct doctest::StringMaker<Lines> {
    static doctest::String convert(const Lines& lines) {
        std::string out = "{";
        for (const auto& line : lines) out += "\n  \"" + line + "\"";
        return (out + "\n}").c_str();
    }
};

namespace {

/// An in-memory repository: path from the root -> contents.
snippets::Sources sources_from(std::map<std::string, std::string> files, int* reads = nullptr) {
    return snippets::Sources(
        [files = std::move(files), reads](const std::string& path) -> std::optional<std::string> {
            if (reads != nullptr) ++*reads;
            const auto it = files.find(path);
            if (it == files.end()) return std::nullopt;
            return it->second;
        });
}

const std::string executor_source = R"(#pragma once
struct Executor {
    // snippet-begin: run
    void run() {
        poll_all();
    }
    // snippet-end: run
};
)";

const std::string matching_markdown = R"(# Title

Some text.

<!-- snippet: rt/executor.hpp#run -->
```cpp
void run() {
    poll_all();
}
```

More text.
)";

}  // namespace

TEST_SUITE("regions") {
    TEST_CASE("a region is the lines between its markers, marker lines excluded") {
        const auto regions = snippets::extract_regions("a.hpp", executor_source);
        CHECK(regions.problems.empty());
        REQUIRE(regions.by_name.contains("run"));
        CHECK(regions.by_name.at("run") ==
              Lines{"    void run() {", "        poll_all();", "    }"});
    }

    TEST_CASE("nested regions hold the shared lines but no marker line") {
        const auto regions = snippets::extract_regions("a.hpp",
                                                       "// snippet-begin: outer\n"
                                                       "a\n"
                                                       "// snippet-begin: inner\n"
                                                       "b\n"
                                                       "// snippet-end: inner\n"
                                                       "c\n"
                                                       "// snippet-end: outer\n");
        CHECK(regions.problems.empty());
        CHECK(regions.by_name.at("outer") == Lines{"a", "b", "c"});
        CHECK(regions.by_name.at("inner") == Lines{"b"});
    }

    TEST_CASE("a region that is never closed is reported as unterminated at its begin") {
        const auto regions = snippets::extract_regions("a.hpp", "x\n// snippet-begin: lost\ny\n");
        CHECK(regions.by_name.empty());
        REQUIRE(regions.problems.size() == 1);
        CHECK(regions.problems[0].file == "a.hpp");
        CHECK(regions.problems[0].line == 2);
        CHECK(regions.problems[0].message.find("lost is not terminated") != std::string::npos);
    }

    TEST_CASE("an end marker without a begin is reported") {
        const auto regions = snippets::extract_regions("a.hpp", "x\n// snippet-end: stray\n");
        REQUIRE(regions.problems.size() == 1);
        CHECK(regions.problems[0].line == 2);
        CHECK(regions.problems[0].message.find("without a snippet-begin") != std::string::npos);
    }

    TEST_CASE("a name used twice in one file is reported and its first region kept") {
        const auto regions =
            snippets::extract_regions("a.hpp",
                                      "// snippet-begin: twice\n1\n// snippet-end: twice\n"
                                      "// snippet-begin: twice\n2\n// snippet-end: twice\n");
        REQUIRE(regions.problems.size() >= 1);
        CHECK(regions.problems[0].line == 4);
        CHECK(regions.problems[0].message.find("twice begins a second time") != std::string::npos);
        CHECK(regions.by_name.at("twice") == Lines{"1"});
    }

    TEST_CASE("a marker tag with no name after it is not a marker") {
        const auto regions = snippets::extract_regions(
            "a.cpp", "constexpr auto tag = \"snippet-begin:\";\nint x;\n");
        CHECK(regions.problems.empty());
        CHECK(regions.by_name.empty());
    }
}

TEST_SUITE("dedent") {
    TEST_CASE("dedent removes the indentation every non-blank line shares") {
        CHECK(snippets::dedent({"    a", "      b", "", "    c"}) == Lines{"a", "  b", "", "c"});
    }

    TEST_CASE("blank lines do not limit the indentation removed, and become empty") {
        CHECK(snippets::dedent({"        a", "  ", "        b"}) == Lines{"a", "", "b"});
    }

    TEST_CASE("lines with no shared indentation are left as they are") {
        CHECK(snippets::dedent({"a", "    b"}) == Lines{"a", "    b"});
    }
}

TEST_SUITE("markdown") {
    TEST_CASE("a snippet comment and the code block after it are found") {
        const auto scan = snippets::scan_markdown("doc.md", matching_markdown);
        CHECK(scan.problems.empty());
        REQUIRE(scan.blocks.size() == 1);
        const auto& block = scan.blocks[0];
        CHECK(block.marker_line == 5);
        CHECK(block.path == "rt/executor.hpp");
        CHECK(block.name == "run");
        CHECK(block.content == Lines{"void run() {", "    poll_all();", "}"});
    }

    TEST_CASE("a snippet comment shown inside another code block is an example, not a snippet") {
        const auto scan = snippets::scan_markdown("doc.md",
                                                  "````markdown\n"
                                                  "<!-- snippet: rt/executor.hpp#run -->\n"
                                                  "```cpp\n"
                                                  "stale\n"
                                                  "```\n"
                                                  "````\n");
        CHECK(scan.problems.empty());
        CHECK(scan.blocks.empty());
    }

    TEST_CASE("a snippet comment not followed at once by a code block is reported") {
        const auto scan =
            snippets::scan_markdown("doc.md", "<!-- snippet: a.hpp#x -->\n\n```cpp\ny\n```\n");
        CHECK(scan.blocks.empty());
        REQUIRE(scan.problems.size() == 1);
        CHECK(scan.problems[0].line == 1);
        CHECK(scan.problems[0].message.find("followed at once by a fenced code block") !=
              std::string::npos);
    }

    TEST_CASE("a code block that is never closed is reported") {
        const auto scan =
            snippets::scan_markdown("doc.md", "<!-- snippet: a.hpp#x -->\n```cpp\ny\n");
        CHECK(scan.blocks.empty());
        REQUIRE(scan.problems.size() == 1);
        CHECK(scan.problems[0].message.find("never closed") != std::string::npos);
    }

    TEST_CASE("a snippet comment without #NAME is reported") {
        const auto scan =
            snippets::scan_markdown("doc.md", "<!-- snippet: a.hpp -->\n```cpp\n```\n");
        CHECK(scan.blocks.empty());
        REQUIRE(scan.problems.size() == 1);
        CHECK(scan.problems[0].message.find("path/from/root#NAME") != std::string::npos);
    }
}

TEST_SUITE("line diff") {
    TEST_CASE("the diff shows text-only lines with - and source-only lines with +") {
        const auto diff = snippets::line_diff({"a", "b", "c"}, {"a", "B", "c"});
        CHECK(diff == Lines{"  a", "- b", "+ B", "  c"});
    }

    TEST_CASE("distant changes are separated and unchanged lines far from them are left out") {
        const auto diff =
            snippets::line_diff({"x", "1", "2", "3", "4", "y"}, {"X", "1", "2", "3", "4", "Y"});
        CHECK(diff == Lines{"- x", "+ X", "  1", "...", "  4", "- y", "+ Y"});
    }

    TEST_CASE("a long diff is cut short and says how many changes it left out") {
        Lines text(30, "old");
        Lines source(30, "new");
        const auto diff = snippets::line_diff(text, source, 4);
        REQUIRE(diff.size() == 5);
        CHECK(diff.back() == "... and 56 more changed lines");
    }
}

TEST_SUITE("check") {
    TEST_CASE("a block that matches its region passes") {
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", matching_markdown, sources);
        CHECK(report.blocks == 1);
        CHECK(report.drifted == 0);
        CHECK(report.problems.empty());
        CHECK(sources.take_problems().empty());
    }

    TEST_CASE("a drifted block is reported at its comment's line, with a line diff") {
        std::string source = executor_source;
        source.replace(source.find("poll_all"), 8, "poll_each");
        auto sources = sources_from({{"rt/executor.hpp", source}});
        const auto report = snippets::check_markdown("doc.md", matching_markdown, sources);
        CHECK(report.drifted == 1);
        REQUIRE(report.problems.size() == 1);
        const auto& problem = report.problems[0];
        CHECK(problem.drift);
        CHECK(problem.file == "doc.md");
        CHECK(problem.line == 5);
        CHECK(problem.message == "snippet rt/executor.hpp#run differs from the source");
        CHECK(problem.details ==
              Lines{"  void run() {", "-     poll_all();", "+     poll_each();", "  }"});
    }

    TEST_CASE("a missing NAME is reported with the names the file has") {
        std::string markdown = matching_markdown;
        markdown.replace(markdown.find("#run"), 4, "#walk");
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", markdown, sources);
        CHECK(report.drifted == 0);
        REQUIRE(report.problems.size() == 1);
        CHECK_FALSE(report.problems[0].drift);
        CHECK(
            report.problems[0].message ==
            "snippet rt/executor.hpp#walk: no region walk in rt/executor.hpp (regions there: run)");
        CHECK(report.updated_text == markdown);
    }

    TEST_CASE("an unknown file is reported") {
        auto sources = sources_from({});
        const auto report = snippets::check_markdown("doc.md", matching_markdown, sources);
        REQUIRE(report.problems.size() == 1);
        CHECK(report.problems[0].message.find("unknown file rt/executor.hpp") != std::string::npos);
    }

    TEST_CASE("a path that leaves the repository root is reported and never read") {
        int reads = 0;
        auto sources = sources_from({{"../secret.hpp", executor_source}}, &reads);
        std::string markdown = matching_markdown;
        markdown.replace(markdown.find("rt/executor.hpp"), 15, "../secret.hpp");
        const auto report = snippets::check_markdown("doc.md", markdown, sources);
        REQUIRE(report.problems.size() == 1);
        CHECK(report.problems[0].message.find("stay inside it") != std::string::npos);
        CHECK(reads == 0);
    }

    TEST_CASE("a source file's own problems are reported once however many snippets use it") {
        int reads = 0;
        auto sources = sources_from(
            {{"rt/executor.hpp", executor_source + "// snippet-begin: open\n"}}, &reads);
        const std::string twice = matching_markdown + "\n" + matching_markdown;
        const auto report = snippets::check_markdown("doc.md", twice, sources);
        CHECK(report.blocks == 2);
        CHECK(report.problems.empty());
        CHECK(reads == 1);
        const auto problems = sources.take_problems();
        REQUIRE(problems.size() == 1);
        CHECK(problems[0].file == "rt/executor.hpp");
        CHECK(problems[0].message.find("open is not terminated") != std::string::npos);
        CHECK(sources.take_problems().empty());
    }
}

TEST_SUITE("update") {
    TEST_CASE("update rewrites only the drifted block and leaves every other byte alone") {
        std::string stale = matching_markdown;
        stale.replace(stale.find("    poll_all();"), 15, "    old_code();\n    more_old_code();");
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", stale, sources);
        CHECK(report.drifted == 1);
        CHECK(report.updated_text == matching_markdown);
    }

    TEST_CASE("update of a text that matches changes nothing") {
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", matching_markdown, sources);
        CHECK(report.updated_text == matching_markdown);
    }

    TEST_CASE("update fills an empty block and keeps a file without a final newline so") {
        const std::string empty = "<!-- snippet: rt/executor.hpp#run -->\n```cpp\n```";
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", empty, sources);
        CHECK(
            report.updated_text ==
            "<!-- snippet: rt/executor.hpp#run -->\n```cpp\nvoid run() {\n    poll_all();\n}\n```");
    }

    TEST_CASE("update keeps the indentation of a code block inside a list item") {
        const std::string listed =
            "1. Step one:\n"
            "   <!-- snippet: rt/executor.hpp#run -->\n"
            "   ```cpp\n"
            "   stale\n"
            "   ```\n";
        auto sources = sources_from({{"rt/executor.hpp", executor_source}});
        const auto report = snippets::check_markdown("doc.md", listed, sources);
        CHECK(report.updated_text ==
              "1. Step one:\n"
              "   <!-- snippet: rt/executor.hpp#run -->\n"
              "   ```cpp\n"
              "   void run() {\n"
              "       poll_all();\n"
              "   }\n"
              "   ```\n");
        auto again = sources_from({{"rt/executor.hpp", executor_source}});
        CHECK(snippets::check_markdown("doc.md", report.updated_text, again).drifted == 0);
    }

    TEST_CASE("update rewrites every drifted block of a file, each from its own region") {
        const std::string source =
            "// snippet-begin: a\nint a;\n// snippet-end: a\n// snippet-begin: b\nint b;\n// "
            "snippet-end: b\n";
        const std::string markdown =
            "<!-- snippet: s.hpp#a -->\n```cpp\nx\n```\nmiddle\n<!-- snippet: s.hpp#b "
            "-->\n```cpp\ny\n```\nend\n";
        auto sources = sources_from({{"s.hpp", source}});
        const auto report = snippets::check_markdown("doc.md", markdown, sources);
        CHECK(report.drifted == 2);
        CHECK(report.updated_text ==
              "<!-- snippet: s.hpp#a -->\n```cpp\nint a;\n```\nmiddle\n<!-- snippet: s.hpp#b "
              "-->\n```cpp\nint b;\n```\nend\n");
    }
}
