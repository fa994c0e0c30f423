// Tests of the JSON reader used for meson's logs and introspection.
#include <doctest/doctest.h>

#include <string>

#include "json.hpp"

TEST_SUITE("json") {
    TEST_CASE("objects, arrays, strings, numbers and literals are read") {
        const auto v =
            tutor::parse_json(R"( {"a": [1, 2.5, -3e2], "b": {"c": true, "d": null}, "e": "x"} )");
        REQUIRE(v.kind == tutor::Json::Kind::object);
        const auto* a = v.find("a");
        REQUIRE(a != nullptr);
        REQUIRE(a->items.size() == 3);
        CHECK(a->items[1].number == doctest::Approx(2.5));
        CHECK(a->items[2].number == doctest::Approx(-300));
        CHECK(v.find("b")->find("c")->boolean);
        CHECK(v.find("b")->find("d")->kind == tutor::Json::Kind::null);
        CHECK(v.string_or("e", "") == "x");
        CHECK(v.string_or("missing", "fallback") == "fallback");
    }

    TEST_CASE("escapes in strings are decoded, including \\u and surrogate pairs") {
        const auto v = tutor::parse_json(R"(["a\"b\\c\n", "\u00e9", "\ud83d\ude00", "\/"])");
        CHECK(v.items[0].string == "a\"b\\c\n");
        CHECK(v.items[1].string == "\xc3\xa9");
        CHECK(v.items[2].string == "\xf0\x9f\x98\x80");
        CHECK(v.items[3].string == "/");
    }

    TEST_CASE("a surrogate not in a pair reads as U+FFFD, and what follows it is kept") {
        const auto v = tutor::parse_json(
            R"(["\ud83d", "\ude00", "\ud83dx", "\ud83d\u0041", "\ud83d\ud83d\ude00"])");
        CHECK(v.items[0].string == "\xef\xbf\xbd");
        CHECK(v.items[1].string == "\xef\xbf\xbd");
        CHECK(v.items[2].string == "\xef\xbf\xbdx");
        CHECK(v.items[3].string == std::string("\xef\xbf\xbd") + "A");
        CHECK(v.items[4].string == "\xef\xbf\xbd\xf0\x9f\x98\x80");
    }

    TEST_CASE("malformed text is rejected") {
        CHECK_THROWS_AS(tutor::parse_json(R"({"a": 1)"), tutor::JsonError);
        CHECK_THROWS_AS(tutor::parse_json(R"({"a" 1})"), tutor::JsonError);
        CHECK_THROWS_AS(tutor::parse_json(R"("unterminated)"), tutor::JsonError);
        CHECK_THROWS_AS(tutor::parse_json("[1] 2"), tutor::JsonError);
        CHECK_THROWS_AS(tutor::parse_json(""), tutor::JsonError);
        CHECK_THROWS_AS(tutor::parse_json(std::string(1000, '[')), tutor::JsonError);
    }
}
