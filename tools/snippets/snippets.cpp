// The snippet checker's logic (see snippets.hpp for the formats it reads).
#include "snippets.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace snippets {

namespace {

constexpr std::string_view begin_tag = "snippet-begin:";
constexpr std::string_view end_tag = "snippet-end:";

bool is_blank(std::string_view line) {
    return line.find_first_not_of(" \t") == std::string_view::npos;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/// The NAME after `tag` in `line`, or nothing when the line holds no such marker. A tag not
/// followed by a name (as in a string constant naming the tag) is not a marker.
std::optional<std::string> marker_name(std::string_view line, std::string_view tag) {
    const auto at = line.find(tag);
    if (at == std::string_view::npos) return std::nullopt;
    std::size_t i = at + tag.size();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < line.size() && is_name_char(line[i])) ++i;
    if (i == start) return std::nullopt;
    return std::string(line.substr(start, i - start));
}

/// Remove up to `indent.size()` leading characters of `line` that match `indent`.
std::string strip_indent(std::string_view line, std::string_view indent) {
    std::size_t i = 0;
    while (i < indent.size() && i < line.size() && line[i] == indent[i]) ++i;
    return std::string(line.substr(i));
}

/// True when `path` is relative and never climbs above the directory it starts from.
bool stays_inside_root(std::string_view path) {
    if (path.empty() || path.front() == '/') return false;
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        if (path.substr(start, end - start) == "..") return false;
        start = end + 1;
    }
    return true;
}

std::string join_names(const Regions& regions) {
    std::string names;
    for (const auto& [name, lines] : regions.by_name) {
        if (!names.empty()) names += ", ";
        names += name;
    }
    return names.empty() ? "none" : names;
}

}  // namespace

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = s.find_last_not_of(" \t");
    return s.substr(first, last - first + 1);
}

std::optional<Fence> parse_fence(std::string_view line) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos) return std::nullopt;
    const char mark = line[first];
    if (mark != '`' && mark != '~') return std::nullopt;
    std::size_t i = first;
    while (i < line.size() && line[i] == mark) ++i;
    if (i - first < 3) return std::nullopt;
    const std::string_view info = trim(line.substr(i));
    if (mark == '`' && info.find('`') != std::string_view::npos)
        return std::nullopt;  // inline code
    return Fence{std::string(line.substr(0, first)), mark, i - first, info};
}

bool closes(const Fence& opening, std::string_view line) {
    const auto fence = parse_fence(line);
    return fence && fence->mark == opening.mark && fence->length >= opening.length &&
           fence->info.empty();
}

std::size_t closing_fence(const std::vector<std::string>& lines, std::size_t open,
                          const Fence& fence) {
    std::size_t close = open + 1;
    while (close < lines.size() && !closes(fence, lines[close])) ++close;
    return close;
}

std::optional<std::string_view> tagged_comment(std::string_view line, std::string_view tag) {
    std::string_view s = trim(line);
    constexpr std::string_view open = "<!--";
    constexpr std::string_view close = "-->";
    if (s.substr(0, open.size()) != open) return std::nullopt;
    if (s.size() < open.size() + close.size() || s.substr(s.size() - close.size()) != close) {
        return std::nullopt;
    }
    s = trim(s.substr(open.size(), s.size() - open.size() - close.size()));
    if (s.substr(0, tag.size()) != tag) return std::nullopt;
    return trim(s.substr(tag.size()));
}

std::vector<std::string> split_lines(std::string_view text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.emplace_back(line);
        start = end + 1;
    }
    return lines;
}

Regions extract_regions(std::string_view file, std::string_view text) {
    struct Open {
        int line;
        std::vector<std::string> lines;
    };
    Regions regions;
    std::map<std::string, Open, std::less<>> open;
    std::set<std::string, std::less<>> seen;  // every name that has begun, complete or not
    const std::vector<std::string> lines = split_lines(text);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const int line_no = static_cast<int>(i) + 1;
        const auto begin = marker_name(lines[i], begin_tag);
        const auto end = marker_name(lines[i], end_tag);
        if (begin) {
            if (seen.contains(*begin)) {
                regions.problems.push_back(
                    {std::string(file), line_no, "region " + *begin + " begins a second time", {}});
            } else {
                seen.insert(*begin);
                open.emplace(*begin, Open{line_no, {}});
            }
        }
        if (end) {
            auto it = open.find(*end);
            if (it == open.end()) {
                regions.problems.push_back(
                    {std::string(file),
                     line_no,
                     "snippet-end: " + *end + " without a snippet-begin: " + *end,
                     {}});
            } else {
                regions.by_name.emplace(it->first, std::move(it->second.lines));
                open.erase(it);
            }
        }
        if (begin || end) continue;  // marker lines belong to no region
        for (auto& [name, region] : open) region.lines.push_back(lines[i]);
    }
    for (const auto& [name, region] : open) {
        regions.problems.push_back(
            {std::string(file),
             region.line,
             "region " + name + " is not terminated (no snippet-end: " + name + ")",
             {}});
    }
    std::stable_sort(regions.problems.begin(), regions.problems.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });
    return regions;
}

std::vector<std::string> dedent(std::vector<std::string> lines) {
    std::optional<std::string> common;
    for (const auto& line : lines) {
        if (is_blank(line)) continue;
        const std::string_view indent =
            std::string_view(line).substr(0, line.find_first_not_of(" \t"));
        if (!common) {
            common = std::string(indent);
        } else {
            std::size_t n = 0;
            while (n < common->size() && n < indent.size() && (*common)[n] == indent[n]) ++n;
            common->resize(n);
        }
    }
    for (auto& line : lines) {
        if (is_blank(line)) {
            line.clear();
        } else if (common) {
            line.erase(0, common->size());
        }
    }
    return lines;
}

MarkdownScan scan_markdown(std::string_view file, std::string_view text) {
    MarkdownScan scan;
    const std::vector<std::string> lines = split_lines(text);
    auto problem = [&](std::size_t index, std::string message) {
        scan.problems.push_back(
            {std::string(file), static_cast<int>(index) + 1, std::move(message), {}});
    };
    std::size_t i = 0;
    while (i < lines.size()) {
        // A code block that is not a snippet: skip it whole, snippet comments in it included.
        if (const auto fence = parse_fence(lines[i])) {
            i = closing_fence(lines, i, *fence) + 1;
            continue;
        }
        const auto comment = tagged_comment(lines[i], "snippet:");
        if (!comment) {
            ++i;
            continue;
        }
        const std::size_t marker = i;
        const auto hash = comment->rfind('#');
        if (hash == std::string_view::npos || hash == 0 || hash + 1 == comment->size()) {
            problem(marker, "snippet comment must read <!-- snippet: path/from/root#NAME -->");
            ++i;
            continue;
        }
        SnippetBlock block;
        block.marker_line = static_cast<int>(marker) + 1;
        block.path = std::string(comment->substr(0, hash));
        block.name = std::string(comment->substr(hash + 1));
        const auto fence =
            marker + 1 < lines.size() ? parse_fence(lines[marker + 1]) : std::nullopt;
        if (!fence) {
            problem(marker, "snippet " + block.path + "#" + block.name +
                                " must be followed at once by a fenced code block (```cpp)");
            ++i;
            continue;
        }
        block.indent = fence->indent;
        block.first_line = marker + 2;
        const std::size_t close = closing_fence(lines, marker + 1, *fence);
        if (close == lines.size()) {
            problem(marker, "snippet " + block.path + "#" + block.name +
                                ": its code block is never closed");
            break;
        }
        block.end_line = close;
        for (std::size_t k = block.first_line; k < close; ++k) {
            block.content.push_back(strip_indent(lines[k], block.indent));
        }
        scan.blocks.push_back(std::move(block));
        i = close + 1;
    }
    return scan;
}

std::vector<std::string> line_diff(const std::vector<std::string>& text,
                                   const std::vector<std::string>& source, std::size_t max_lines) {
    // Longest common subsequence, then a walk that emits kept, removed and added lines.
    const std::size_t n = text.size();
    const std::size_t m = source.size();
    std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
    for (std::size_t i = n; i-- > 0;) {
        for (std::size_t j = m; j-- > 0;) {
            lcs[i][j] = text[i] == source[j] ? lcs[i + 1][j + 1] + 1
                                             : std::max(lcs[i + 1][j], lcs[i][j + 1]);
        }
    }
    std::vector<std::pair<char, std::string>> ops;
    std::size_t i = 0;
    std::size_t j = 0;
    while (i < n || j < m) {
        if (i < n && j < m && text[i] == source[j]) {
            ops.emplace_back(' ', text[i++]);
            ++j;
        } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
            ops.emplace_back('-', text[i++]);  // removals first, then what replaces them
        } else {
            ops.emplace_back('+', source[j++]);
        }
    }

    // Keep the changes and one line of context on each side of them.
    std::vector<bool> shown(ops.size(), false);
    for (std::size_t k = 0; k < ops.size(); ++k) {
        if (ops[k].first == ' ') continue;
        shown[k] = true;
        if (k > 0) shown[k - 1] = true;
        if (k + 1 < ops.size()) shown[k + 1] = true;
    }
    std::vector<std::string> out;
    std::size_t hidden_changes = 0;
    bool gap = false;
    for (std::size_t k = 0; k < ops.size(); ++k) {
        if (!shown[k]) {
            gap = !out.empty();
            continue;
        }
        if (out.size() >= max_lines) {
            if (ops[k].first != ' ') ++hidden_changes;
            continue;
        }
        if (gap) {
            out.emplace_back("...");
            gap = false;
        }
        out.push_back(std::string(1, ops[k].first) + " " + ops[k].second);
    }
    if (hidden_changes > 0) {
        out.push_back("... and " + std::to_string(hidden_changes) + " more changed line" +
                      (hidden_changes == 1 ? "" : "s"));
    }
    return out;
}

const Regions* Sources::regions(const std::string& path) {
    auto it = files_.find(path);
    if (it == files_.end()) {
        std::optional<Regions> regions;
        if (const auto text = read_(path)) {
            regions = extract_regions(path, *text);
            for (auto& p : regions->problems) pending_problems_.push_back(p);
        }
        it = files_.emplace(path, std::move(regions)).first;
    }
    return it->second ? &*it->second : nullptr;
}

std::vector<Problem> Sources::take_problems() { return std::exchange(pending_problems_, {}); }

FileReport check_markdown(std::string_view file, std::string_view text, Sources& sources) {
    FileReport report;
    MarkdownScan scan = scan_markdown(file, text);
    report.problems = std::move(scan.problems);
    report.blocks = static_cast<int>(scan.blocks.size());

    const std::vector<std::string> lines = split_lines(text);
    std::vector<std::string> out;
    std::size_t next = 0;  // first line of `lines` not yet copied to `out`
    for (const SnippetBlock& block : scan.blocks) {
        const std::string what = "snippet " + block.path + "#" + block.name;
        auto problem = [&](std::string message, std::vector<std::string> details = {},
                           bool drift = false) {
            report.problems.push_back({std::string(file), block.marker_line, std::move(message),
                                       std::move(details), drift});
        };
        if (!stays_inside_root(block.path)) {
            problem(what + ": the path must be relative to the repository root and stay inside it");
            continue;
        }
        const Regions* regions = sources.regions(block.path);
        if (regions == nullptr) {
            problem(what + ": unknown file " + block.path);
            continue;
        }
        const auto region = regions->by_name.find(block.name);
        if (region == regions->by_name.end()) {
            problem(what + ": no region " + block.name + " in " + block.path +
                    " (regions there: " + join_names(*regions) + ")");
            continue;
        }
        const std::vector<std::string> wanted = dedent(region->second);
        if (block.content == wanted) continue;

        ++report.drifted;
        problem(what + " differs from the source", line_diff(block.content, wanted), true);
        out.insert(out.end(), lines.begin() + static_cast<std::ptrdiff_t>(next),
                   lines.begin() + static_cast<std::ptrdiff_t>(block.first_line));
        for (const auto& line : wanted) out.push_back(line.empty() ? line : block.indent + line);
        next = block.end_line;
    }
    std::stable_sort(report.problems.begin(), report.problems.end(),
                     [](const Problem& a, const Problem& b) { return a.line < b.line; });

    if (report.drifted == 0) {
        report.updated_text = std::string(text);
        return report;
    }
    out.insert(out.end(), lines.begin() + static_cast<std::ptrdiff_t>(next), lines.end());
    for (std::size_t k = 0; k < out.size(); ++k) {
        report.updated_text += out[k];
        if (k + 1 < out.size() || text.ends_with('\n')) report.updated_text += '\n';
    }
    return report;
}

}  // namespace snippets
