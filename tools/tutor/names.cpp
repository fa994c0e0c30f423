// Name matching and suggestions for chapters and exercises (see names.hpp).
#include "names.hpp"

#include <algorithm>
#include <cctype>
#include <numeric>

namespace tutor {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool starts_with_two_digits(std::string_view s) {
    return s.size() >= 2 && is_digit(s[0]) && is_digit(s[1]);
}

/// Pads a leading number of one digit: "1" -> "01", "1-then" -> "01-then".
std::string pad_number(std::string_view part) {
    if (!part.empty() && is_digit(part[0]) && (part.size() == 1 || !is_digit(part[1]))) {
        return "0" + std::string(part);
    }
    return std::string(part);
}

/// The strings an item answers to.
std::vector<std::string> candidates(const NamedItem& item) {
    std::vector<std::string> result{item.id};
    if (!item.name.empty()) {
        result.push_back(item.id + "-" + item.name);
        result.push_back(item.name);
    }
    for (auto& c : result) std::transform(c.begin(), c.end(), c.begin(), lower);
    return result;
}

}  // namespace

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitution =
                diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string normalise_query(std::string_view query) {
    std::string q(query);
    std::transform(q.begin(), q.end(), q.begin(), lower);
    if (q.starts_with("./")) q.erase(0, 2);
    for (std::string_view prefix : {"exercises/", "solutions/", "chapters/"}) {
        if (q.starts_with(prefix)) {
            q.erase(0, prefix.size());
            break;
        }
    }
    while (!q.empty() && q.back() == '/') q.pop_back();

    // "01-naive-executor/02-then" (a path) -> "01-02-then"
    if (const auto slash = q.find('/'); slash != std::string::npos) {
        const std::string_view chapter = std::string_view(q).substr(0, slash);
        std::string_view exercise = std::string_view(q).substr(slash + 1);
        if (const auto more = exercise.find('/'); more != std::string_view::npos) {
            exercise = exercise.substr(0, more);  // a file inside the folder
        }
        if (starts_with_two_digits(chapter) && starts_with_two_digits(exercise)) {
            return std::string(chapter.substr(0, 2)) + "-" + std::string(exercise);
        }
        return q;
    }

    // "1" -> "01", "1-2" -> "01-02", "1-2-then" -> "01-02-then"
    if (!q.empty() && is_digit(q[0])) {
        const auto dash = q.find('-');
        std::string first = pad_number(std::string_view(q).substr(0, dash));
        if (dash == std::string::npos) return first;
        return first + "-" + pad_number(std::string_view(q).substr(dash + 1));
    }
    return q;
}

Match find_item(std::span<const NamedItem> items, std::string_view query) {
    const std::string q = normalise_query(query);
    Match match;
    if (q.empty()) return match;
    std::vector<std::size_t> by_name;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto names = candidates(items[i]);
        if (names[0] == q || (names.size() > 1 && names[1] == q)) {
            match.index = i;  // an id is unique, so it wins over a bare name
            return match;
        }
        if (names.size() > 2 && names[2] == q) by_name.push_back(i);
    }
    if (by_name.size() == 1) {
        match.index = by_name.front();
    } else if (by_name.size() > 1) {
        match.ambiguous = std::move(by_name);
    }
    return match;
}

std::vector<std::size_t> nearest_items(std::span<const NamedItem> items, std::string_view query,
                                       std::size_t count) {
    const std::string q = normalise_query(query);
    std::vector<std::pair<std::size_t, std::size_t>> scored;  // (distance, index)
    for (std::size_t i = 0; i < items.size(); ++i) {
        std::size_t best = std::string::npos;
        for (const auto& name : candidates(items[i])) best = std::min(best, edit_distance(q, name));
        scored.emplace_back(best, i);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::size_t> result;
    for (std::size_t i = 0; i < scored.size() && i < count; ++i) result.push_back(scored[i].second);
    return result;
}

std::string describe_items(std::span<const NamedItem> items, std::span<const std::size_t> indices) {
    std::string text;
    for (const auto i : indices) {
        if (!text.empty()) text += ", ";
        text += items[i].id;
        if (!items[i].name.empty()) text += " (" + items[i].name + ")";
    }
    return text;
}

}  // namespace tutor
