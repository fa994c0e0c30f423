// Compiler-error trimming (see compiler_errors.hpp), one line at a time: context waits for the
// next diagnostic; notes and excerpts belong to the error before them; warnings are left out.
#include "compiler_errors.hpp"

#include <algorithm>
#include <cctype>

#include "source_paths.hpp"

namespace tutor {

namespace {

constexpr std::size_t line_width = 200;
constexpr std::size_t max_context_lines =
    5;  // before an error: included from, in function, required from
constexpr std::size_t max_note_lines = 8;  // after an error: its excerpt and notes

enum class LineKind { noise, context, error, warning, attached };

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

/// "[3/7] Compiling C++ object ..."
bool is_progress(std::string_view line) {
    if (!line.starts_with("[")) return false;
    const auto close = line.find("] ");
    if (close == std::string_view::npos) return false;
    for (const char c : line.substr(1, close - 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c)) && c != '/') return false;
    }
    return true;
}

LineKind classify(std::string_view line) {
    if (is_progress(line) || line.starts_with("ninja: ") || line.starts_with("collect2: ")) {
        return LineKind::noise;
    }
    if (contains(line, ": error: ") || contains(line, ": fatal error: ") ||
        line.ends_with(": error:") || contains(line, "undefined reference to ") ||
        contains(line, "multiple definition of ")) {
        return LineKind::error;
    }
    if (contains(line, ": warning: ")) return LineKind::warning;
    if (line.starts_with("In file included from ") || line.starts_with("                 from ") ||
        contains(line, ": In ") || contains(line, ": in function ") ||
        contains(line, ": At global scope:") || contains(line, "required from ") ||
        contains(line, "required by substitution of") || contains(line, "required from here")) {
        return LineKind::context;
    }
    return LineKind::attached;  // notes, source excerpts, continuations
}

}  // namespace

CompilerErrors trim_compiler_errors(std::string_view build_output, std::string_view root,
                                    std::size_t max_errors, std::size_t max_lines) {
    struct Block {
        std::vector<std::string> before;  // the lines that locate the error, nearest last
        std::string error;
        std::vector<std::string> after;  // its source excerpt, notes and their context
    };
    std::vector<Block> blocks;
    std::vector<std::string> pending;    // context lines not yet claimed by a diagnostic
    std::vector<std::string> leftovers;  // what is not ninja's, for the fallback
    enum class State { start, in_error, in_warning } state = State::start;
    bool skip_command = false;
    CompilerErrors result;

    for (const auto raw : split_lines(build_output)) {
        if (skip_command) {  // ninja prints the failed command on the line after FAILED:
            skip_command = false;
            continue;
        }
        if (raw.starts_with("FAILED: ")) {
            skip_command = true;
            continue;
        }
        const LineKind kind = classify(raw);
        if (kind == LineKind::noise) continue;
        std::string line = clip_line(relative_to_root(raw, root), line_width);
        leftovers.push_back(line);
        switch (kind) {
            case LineKind::context:
                // Context precedes the next diagnostic, whichever it is: an error (its own
                // block), or a note of the error before (gcc locates notes in other files too).
                pending.push_back(std::move(line));
                break;
            case LineKind::error:
                ++result.total;
                state = State::in_error;
                blocks.push_back({std::move(pending), std::move(line), {}});
                pending.clear();
                break;
            case LineKind::warning:
                state = State::in_warning;
                pending.clear();
                break;
            case LineKind::attached:
                if (state == State::in_error) {
                    auto& after = blocks.back().after;
                    after.insert(after.end(), pending.begin(), pending.end());
                    after.push_back(std::move(line));
                }
                pending.clear();
                break;
            case LineKind::noise:
                break;
        }
    }

    if (blocks.empty()) {
        const std::size_t first = leftovers.size() > max_lines ? leftovers.size() - max_lines : 0;
        result.lines.assign(leftovers.begin() + static_cast<std::ptrdiff_t>(first),
                            leftovers.end());
        return result;
    }
    std::vector<std::string> shown_errors;
    for (const auto& block : blocks) {
        if (static_cast<std::size_t>(result.shown) == max_errors) break;
        // The same error from another template instantiation adds nothing.
        if (std::find(shown_errors.begin(), shown_errors.end(), block.error) != shown_errors.end())
            continue;
        shown_errors.push_back(block.error);
        // Each error gets at most a few lines of context (the nearest ones) and of notes.
        const std::size_t before = std::min(block.before.size(), max_context_lines);
        const std::size_t after = std::min(block.after.size(), max_note_lines);
        const std::size_t room = max_lines - result.lines.size();
        if (result.shown > 0 && room < before + 1 + std::min<std::size_t>(after, 2)) break;
        std::vector<std::string> lines(block.before.end() - static_cast<std::ptrdiff_t>(before),
                                       block.before.end());
        lines.push_back(block.error);
        lines.insert(lines.end(), block.after.begin(),
                     block.after.begin() + static_cast<std::ptrdiff_t>(after));
        if (lines.size() > room) lines.resize(room);
        result.lines.insert(result.lines.end(), lines.begin(), lines.end());
        ++result.shown;
        if (result.lines.size() == max_lines) break;
    }
    return result;
}

}  // namespace tutor
