// Finding a chapter or exercise from what a learner typed ("01-02", "1-2", "01-02-then",
// "then", "exercises/01-naive-executor/02-then/") and, when nothing matches, the nearest names.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// Something a learner can name: an id ("01" or "01-02") and a name ("naive-executor", "then").
struct NamedItem {
    std::string id;
    std::string name;
};

/// Levenshtein distance, ignoring case.
std::size_t edit_distance(std::string_view a, std::string_view b);

/// What a learner typed, in the form ids and names are compared in: lower case, without a
/// leading "exercises/", "solutions/" or "chapters/" and trailing '/', a path
/// "NN-chapter/EE-name" turned into "NN-EE-name", and single digits padded ("1-2" -> "01-02").
std::string normalise_query(std::string_view query);

/// The outcome of looking a name up: the index of the one match, or every item the name
/// matches when it is ambiguous (a bare name used in two chapters); both empty: no match.
struct Match {
    std::optional<std::size_t> index;
    std::vector<std::size_t> ambiguous;
};

/// Matches `query` against each item's id, "id-name" and bare name.
Match find_item(std::span<const NamedItem> items, std::string_view query);

/// Up to `count` indices of the items nearest to `query` (by edit distance over id,
/// "id-name" and name), nearest first; ties keep the items' order.
std::vector<std::size_t> nearest_items(std::span<const NamedItem> items, std::string_view query,
                                       std::size_t count = 3);

/// "01-02 (then), 01-01 (join-all)": the items at `indices`, for an error message.
std::string describe_items(std::span<const NamedItem> items, std::span<const std::size_t> indices);

}  // namespace tutor
