// A small JSON reader, enough for what meson writes (meson-logs/testlog.json, `meson
// introspect`): the whole grammar, values kept as a tree; malformed input throws.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tutor {

/// One JSON value. Only the members of its kind are meaningful.
struct Json {
    enum class Kind { null, boolean, number, string, array, object };

    Kind kind = Kind::null;
    bool boolean = false;
    double number = 0;
    std::string string;
    std::vector<Json> items;                            ///< an array's elements
    std::vector<std::pair<std::string, Json>> members;  ///< an object's members, in order

    // Declared here and defaulted in json.cpp, where Json is complete: left implicit, they are
    // defined inside std::pair<std::string, Json> while that pair is being instantiated, a
    // pair of an incomplete type, which clang with libstdc++ refuses.
    Json();
    Json(const Json&);
    Json(Json&&) noexcept;
    Json& operator=(const Json&);
    Json& operator=(Json&&) noexcept;
    ~Json();

    /// The member named `key` of an object, or nullptr (also when this is not an object).
    const Json* find(std::string_view key) const;
    /// The string member named `key`, or `fallback` when missing or not a string.
    std::string string_or(std::string_view key, std::string fallback) const;
};

/// Thrown for text that is not one JSON value.
class JsonError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Parses exactly one JSON value (surrounding white space allowed).
Json parse_json(std::string_view text);

}  // namespace tutor
