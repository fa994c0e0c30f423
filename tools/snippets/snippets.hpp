// The snippet checker's logic: regions between marker comments in source files, the Markdown
// code blocks tied to them, and the comparison (or rewrite) of one against the other. Nothing
// here touches the file system except through the SourceReader it is given; main.cpp does that.
//
// The formats, in full:
//  - source file: a line containing `snippet-begin: NAME` opens region NAME, a line containing
//    `snippet-end: NAME` closes it. Marker lines (of any region) are never part of a region.
//    NAME is letters, digits, '_', '-' and '.', unique per file; regions may nest or overlap.
//  - Markdown file: a line `<!-- snippet: path/from/root#NAME -->`, then at once a fenced code
//    block. The block's lines must equal the region's lines with their common indentation
//    removed. Snippet comments inside other code blocks are examples, not snippets.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace snippets {

/// One thing that is wrong, at a place in a file. Printed as `file:line: message`, then the
/// details (e.g. a short diff) indented below.
struct Problem {
    std::string file;
    int line = 0;  // 1-based
    std::string message;
    std::vector<std::string> details;
    bool drift = false;  // a block that differs from its source, which `update` fixes
};

/// The text without the blanks and tabs around it.
std::string_view trim(std::string_view s);

/// An opening or closing code fence: its indentation, its character and its length.
struct Fence {
    std::string indent;
    char mark = '`';
    std::size_t length = 0;
    std::string_view info;  // what follows an opening fence, e.g. "cpp"
};

/// The fence `line` is, or nothing when it is not one.
std::optional<Fence> parse_fence(std::string_view line);

/// True when `line` closes the code block `opening` opened.
bool closes(const Fence& opening, std::string_view line);

/// The index of the line that closes the code block `fence` opens on line `open`, or
/// lines.size() when none does.
std::size_t closing_fence(const std::vector<std::string>& lines, std::size_t open,
                          const Fence& fence);

/// What lies between `tag` and `-->` in a line `<!-- TAG ... -->`, trimmed; nothing when the
/// line is not such a comment.
std::optional<std::string_view> tagged_comment(std::string_view line, std::string_view tag);

/// The text split into lines, without their '\n' (nor a trailing '\r').
std::vector<std::string> split_lines(std::string_view text);

/// The regions of one source file.
struct Regions {
    /// Every complete region: its name, and its lines as they are in the file.
    std::map<std::string, std::vector<std::string>, std::less<>> by_name;
    /// A region never closed, an end without a begin, a name used twice.
    std::vector<Problem> problems;
};

/// Find every region of a source file. `file` only names the file in problems.
Regions extract_regions(std::string_view file, std::string_view text);

/// Remove the indentation all non-blank lines share; blank lines become empty.
std::vector<std::string> dedent(std::vector<std::string> lines);

/// A `<!-- snippet: path#NAME -->` comment in a Markdown file and the code block after it.
struct SnippetBlock {
    int marker_line = 0;               // 1-based line of the comment
    std::string path;                  // the source file, from the repository root
    std::string name;                  // the region in it
    std::size_t first_line = 0;        // 0-based index of the block's first content line
    std::size_t end_line = 0;          // 0-based index of the closing fence
    std::string indent;                // the opening fence's indentation, which content lines share
    std::vector<std::string> content;  // the block's lines, that indentation removed
};

struct MarkdownScan {
    std::vector<SnippetBlock> blocks;
    std::vector<Problem> problems;  // malformed comment, no code block after it, block never closed
};

/// Find every snippet block of a Markdown file. `file` only names the file in problems.
MarkdownScan scan_markdown(std::string_view file, std::string_view text);

/// A short line diff from `text` to `source`: changed lines prefixed "- " (only in the text)
/// or "+ " (only in the source), one unchanged line of context around them prefixed "  ",
/// "..." between distant changes, cut after `max_lines` lines.
std::vector<std::string> line_diff(const std::vector<std::string>& text,
                                   const std::vector<std::string>& source,
                                   std::size_t max_lines = 12);

/// Reads a file by its path from the repository root; std::nullopt when there is none.
using SourceReader = std::function<std::optional<std::string>(const std::string& path)>;

/// The source files the snippets point at, each read and split into regions once.
class Sources {
public:
    explicit Sources(SourceReader read) : read_(std::move(read)) {}

    /// The regions of `path`, or nullptr when it cannot be read. The first call for a path
    /// queues that file's own problems (see take_problems).
    const Regions* regions(const std::string& path);

    /// Problems found in the source files read since the last call, each reported once.
    std::vector<Problem> take_problems();

private:
    SourceReader read_;
    std::map<std::string, std::optional<Regions>> files_;
    std::vector<Problem> pending_problems_;
};

/// What checking one Markdown file found.
struct FileReport {
    std::vector<Problem> problems;  // every problem of the file, drifts included, in line order
    int blocks = 0;                 // snippet blocks in the file
    int drifted = 0;                // blocks whose content differs from their region
    std::string updated_text;       // the file with every drifted block rewritten from its source
};

/// Compare every snippet block of a Markdown file with its region. Blocks whose source or
/// region cannot be found are reported and left as they are in updated_text.
FileReport check_markdown(std::string_view file, std::string_view text, Sources& sources);

}  // namespace snippets
