// README titles and HINTS.md sections (see markdown.hpp).
#include "markdown.hpp"
#include "source_paths.hpp"

#include <cctype>

namespace tutor {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

/// True for a line opening or closing a fenced code block (``` or ~~~).
bool is_fence(std::string_view line) {
    line = trim(line);
    return line.starts_with("```") || line.starts_with("~~~");
}

/// Removes what separates a number from a title: ':', '.', '-', and dashes written in UTF-8.
std::string_view strip_separator(std::string_view s) {
    s = trim(s);
    for (;;) {
        if (s.starts_with(":") || s.starts_with(".") || s.starts_with("-")) {
            s.remove_prefix(1);
        } else if (s.starts_with("\u2014") || s.starts_with("\u2013")) {  // em and en dash
            s.remove_prefix(3);
        } else if (s.starts_with("\u00b7")) {  // middle dot
            s.remove_prefix(2);
        } else {
            break;
        }
        s = trim(s);
    }
    return s;
}

/// The text without its leading and trailing blank lines, ending with one '\n' (or empty).
std::string trim_blank_lines(std::string_view text) {
    std::string result;
    std::string blank_run;  // blank lines held back until a non-blank line follows
    for (const auto line : split_lines(text)) {
        if (trim(line).empty()) {
            if (!result.empty()) blank_run += '\n';
            continue;
        }
        result += blank_run;
        blank_run.clear();
        result += line;
        result += '\n';
    }
    return result;
}

bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

bool starts_with_word(std::string_view s, std::string_view word) {
    if (s.size() < word.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> first_heading(std::string_view markdown) {
    bool in_code = false;
    for (const auto line : split_lines(markdown)) {
        if (is_fence(line)) {
            in_code = !in_code;
            continue;
        }
        if (!in_code && line.starts_with("# ")) {
            const auto title = trim(line.substr(2));
            if (!title.empty()) return std::string(title);
        }
    }
    return std::nullopt;
}

std::string strip_chapter_prefix(std::string_view title) {
    const auto trimmed = trim(title);
    if (!starts_with_word(trimmed, "chapter")) return std::string(trimmed);
    std::string_view rest = trim(trimmed.substr(7));
    if (rest.empty() || !is_digit(rest.front())) return std::string(trimmed);
    while (!rest.empty() && is_digit(rest.front())) rest.remove_prefix(1);
    const auto stripped = strip_separator(rest);
    return stripped.empty() ? std::string(trimmed) : std::string(stripped);
}

std::string strip_id_prefix(std::string_view title, std::string_view id) {
    const auto trimmed = trim(title);
    if (id.empty() || !trimmed.starts_with(id)) return std::string(trimmed);
    const auto rest = trimmed.substr(id.size());
    if (!rest.empty() &&
        (is_digit(rest.front()) || std::isalpha(static_cast<unsigned char>(rest.front())))) {
        return std::string(trimmed);  // "01-023" or "01-02x" is not the id
    }
    const auto stripped = strip_separator(rest);
    return stripped.empty() ? std::string(trimmed) : std::string(stripped);
}

std::vector<Hint> parse_hints(std::string_view markdown) {
    std::vector<Hint> hints;
    bool in_code = false;
    bool in_hint = false;  // the lines seen belong to hints.back()
    for (const auto line : split_lines(markdown)) {
        const bool fence = is_fence(line);
        if (fence) in_code = !in_code;
        const bool section_heading =
            !in_code && !fence && (line.starts_with("# ") || line.starts_with("## "));
        if (section_heading) {
            // "## Hint N ..." opens a hint; any other level-1 or level-2 heading ends it.
            // Deeper headings ("### ...") stay inside the section they appear in.
            in_hint = false;
            if (!line.starts_with("## ")) continue;
            std::string_view heading = trim(line.substr(3));
            if (!starts_with_word(heading, "hint")) continue;
            heading = trim(heading.substr(4));
            if (heading.empty() || !is_digit(heading.front())) continue;
            int number = 0;
            while (!heading.empty() && is_digit(heading.front())) {
                number = number * 10 + (heading.front() - '0');
                heading.remove_prefix(1);
            }
            hints.push_back(Hint{number, std::string(strip_separator(heading)), ""});
            in_hint = true;
            continue;
        }
        if (in_hint) {
            hints.back().body += line;
            hints.back().body += '\n';
        }
    }
    for (auto& hint : hints) hint.body = trim_blank_lines(hint.body);
    return hints;
}

}  // namespace tutor
