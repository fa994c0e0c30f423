// Tests of finding chapters and exercises from what a learner types, and of the suggestions
// when nothing matches.
#include <doctest/doctest.h>

#include <vector>

#include "names.hpp"

using tutor::NamedItem;

namespace {

const std::vector<NamedItem> exercises{
    {"01-01", "join-all"},
    {"01-02", "then"},
    {"02-01", "wake-once"},
    {"05-01", "echo"},
};

std::optional<std::string> found(std::string_view query) {
    const auto match = tutor::find_item(exercises, query);
    if (!match.index) return std::nullopt;
    return exercises[*match.index].id;
}

}  // namespace

TEST_SUITE("names") {
    TEST_CASE("an exercise is found by its id, its id and name, or its bare name") {
        CHECK(found("01-02") == "01-02");
        CHECK(found("01-02-then") == "01-02");
        CHECK(found("then") == "01-02");
        CHECK(found("JOIN-ALL") == "01-01");
    }

    TEST_CASE("single digits are padded, so 1-2 names 01-02") {
        CHECK(found("1-2") == "01-02");
        CHECK(found("2-1-wake-once") == "02-01");
        CHECK(tutor::normalise_query("5") == "05");
    }

    TEST_CASE("a path to the exercise folder or a file in it names the exercise") {
        CHECK(found("exercises/01-naive-executor/02-then/") == "01-02");
        CHECK(found("./exercises/01-naive-executor/01-join-all/join_all.hpp") == "01-01");
        CHECK(found("solutions/05-epoll-reactor/01-echo") == "05-01");
        CHECK(found("01-naive-executor/02-then") == "01-02");
    }

    TEST_CASE("an unknown name matches nothing") {
        CHECK_FALSE(found("nope").has_value());
        CHECK_FALSE(found("").has_value());
        CHECK_FALSE(found("01-09").has_value());
    }

    TEST_CASE("a bare name used by two exercises is ambiguous and lists both") {
        const std::vector<NamedItem> items{{"01-01", "echo"}, {"05-01", "echo"}};
        const auto match = tutor::find_item(items, "echo");
        CHECK_FALSE(match.index.has_value());
        CHECK(match.ambiguous == std::vector<std::size_t>{0, 1});
        CHECK(tutor::find_item(items, "05-01").index == 1u);
    }

    TEST_CASE("the nearest names come first in the suggestions") {
        const auto nearest = tutor::nearest_items(exercises, "thne");
        REQUIRE_FALSE(nearest.empty());
        CHECK(exercises[nearest.front()].id == "01-02");
        CHECK(exercises[tutor::nearest_items(exercises, "01-2")[0]].id == "01-02");
        CHECK(exercises[tutor::nearest_items(exercises, "joinall")[0]].id == "01-01");
    }

    TEST_CASE("suggestions are capped and name id and name") {
        const auto nearest = tutor::nearest_items(exercises, "zzz", 2);
        CHECK(nearest.size() == 2);
        CHECK(tutor::describe_items(exercises, std::vector<std::size_t>{1, 3}) ==
              "01-02 (then), 05-01 (echo)");
    }

    TEST_CASE("edit distance counts insertions, deletions and substitutions, ignoring case") {
        CHECK(tutor::edit_distance("kitten", "sitting") == 3);
        CHECK(tutor::edit_distance("", "abc") == 3);
        CHECK(tutor::edit_distance("Then", "then") == 0);
        CHECK(tutor::edit_distance("then", "hten") == 2);
    }
}
