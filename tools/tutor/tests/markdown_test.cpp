// Tests of reading README titles and HINTS.md hints.
#include <doctest/doctest.h>

#include "markdown.hpp"

TEST_SUITE("markdown") {
    TEST_CASE("a README's title is its first level-1 heading") {
        CHECK(tutor::first_heading("# Join all\n\nRun futures.\n# Second\n") == "Join all");
        CHECK(tutor::first_heading("intro\n## Not this\n#   Spaced title  \n") == "Spaced title");
        CHECK(tutor::first_heading("windows\r\n# Title\r\n") == "Title");
    }

    TEST_CASE("headings inside code blocks and headings without a space are not titles") {
        CHECK(tutor::first_heading("```sh\n# a comment\n```\n# Real\n") == "Real");
        CHECK(tutor::first_heading("#hashtag\n") == std::nullopt);
        CHECK(tutor::first_heading("") == std::nullopt);
    }

    TEST_CASE("a chapter title loses its 'Chapter N:' prefix") {
        CHECK(tutor::strip_chapter_prefix("Chapter 1: The naive executor") == "The naive executor");
        CHECK(tutor::strip_chapter_prefix("Chapter 12 - Timers") == "Timers");
        CHECK(tutor::strip_chapter_prefix("chapter 3. Reactor") == "Reactor");
        CHECK(tutor::strip_chapter_prefix("Chapter 2 \u2014 Wakers") == "Wakers");
        CHECK(tutor::strip_chapter_prefix("Chapters of a runtime") == "Chapters of a runtime");
        CHECK(tutor::strip_chapter_prefix("Wakers") == "Wakers");
    }

    TEST_CASE("an exercise title loses the exercise's id in front of it") {
        CHECK(tutor::strip_id_prefix("01-02 \u00b7 Write a future by hand", "01-02") ==
              "Write a future by hand");
        CHECK(tutor::strip_id_prefix("01-02: Then", "01-02") == "Then");
        CHECK(tutor::strip_id_prefix("Then", "01-02") == "Then");
        CHECK(tutor::strip_id_prefix("01-023 things", "01-02") == "01-023 things");
        CHECK(tutor::strip_id_prefix("01-02", "01-02") == "01-02");
    }

    TEST_CASE("hints are the sections headed '## Hint N', in order, with their text") {
        const auto hints = tutor::parse_hints(
            "# Hints for join-all\n\nIntro text.\n\n"
            "## Hint 1\n\nThink about the queue.\n\n"
            "## Hint 2: where results go\nKeep a slot per future.\n\n```cpp\n## Hint 9 inside "
            "code\n```\n"
            "## Hint 3 \u2014 nearly there\nLast one.\n");
        REQUIRE(hints.size() == 3);
        CHECK(hints[0].number == 1);
        CHECK(hints[0].title.empty());
        CHECK(hints[0].body == "Think about the queue.\n");
        CHECK(hints[1].title == "where results go");
        CHECK(hints[1].body == "Keep a slot per future.\n\n```cpp\n## Hint 9 inside code\n```\n");
        CHECK(hints[2].title == "nearly there");
        CHECK(hints[2].body == "Last one.\n");
    }

    TEST_CASE("other sections end a hint, and sub-headings stay in it") {
        const auto hints =
            tutor::parse_hints("## Hint 1\nA\n### Detail\nB\n## Notes\nnot a hint\n## hint 2\nC\n");
        REQUIRE(hints.size() == 2);
        CHECK(hints[0].body == "A\n### Detail\nB\n");
        CHECK(hints[1].number == 2);
        CHECK(hints[1].body == "C\n");
    }

    TEST_CASE("a HINTS.md without hint sections has no hints") {
        CHECK(tutor::parse_hints("# Hints\n\nNone yet.\n## Hinterland\n").empty());
        CHECK(tutor::parse_hints("").empty());
    }
}
