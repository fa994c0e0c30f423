// Reading the few things the tutor needs from the project's Markdown: the title of a README
// (its first "# " heading) and the hints of a HINTS.md ("## Hint 1", "## Hint 2", ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// The text of the first level-1 heading ("# Title") outside code blocks, trimmed.
std::optional<std::string> first_heading(std::string_view markdown);

/// A chapter title without its "Chapter 3:" (or "Chapter 3 -", "Chapter 3.") prefix.
std::string strip_chapter_prefix(std::string_view title);

/// An exercise title without a leading `id` and separator ("01-02 · Then" -> "Then").
std::string strip_id_prefix(std::string_view title, std::string_view id);

/// One hint of a HINTS.md.
struct Hint {
    int number = 0;     ///< the N of "## Hint N"
    std::string title;  ///< what follows "Hint N" on the heading line, if anything
    std::string body;   ///< the text up to the next "##" heading, blank lines trimmed
};

/// The hints of a HINTS.md, in the order they appear: every section headed "## Hint N"
/// (outside code blocks); other sections are not hints.
std::vector<Hint> parse_hints(std::string_view markdown);

}  // namespace tutor
