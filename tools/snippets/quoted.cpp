// Quoted program output and option tables against the program (see quoted.hpp for the formats).
#include "quoted.hpp"

#include <algorithm>
#include <optional>
#include <utility>

namespace snippets {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::vector<std::string> split(std::string_view s, std::string_view separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto at = s.find(separator, start);
        parts.emplace_back(trim(s.substr(start, at - start)));
        if (at == std::string_view::npos) break;
        start = at + separator.size();
    }
    return parts;
}

std::vector<std::string> split_blanks(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        const std::size_t start = i;
        while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
        if (i > start) words.emplace_back(s.substr(start, i - start));
    }
    return words;
}

std::string without_commas(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c != ',') out += c;
    }
    return out;
}

/// Parses the text of an output comment: PROGRAM [ARG...] [| varies: A, B] [| excerpt].
std::optional<OutputBlock> parse_output_comment(std::string_view text) {
    const std::vector<std::string> parts = split(text, "|");
    OutputBlock block;
    const std::vector<std::string> command = split_blanks(parts.front());
    if (command.empty()) return std::nullopt;
    block.program = command.front();
    block.args.assign(command.begin() + 1, command.end());
    for (std::size_t i = 1; i < parts.size(); ++i) {
        constexpr std::string_view varies = "varies:";
        if (parts[i] == "excerpt") {
            block.excerpt = true;
        } else if (parts[i].starts_with(varies)) {
            for (auto& label : split(std::string_view(parts[i]).substr(varies.size()), ",")) {
                if (label.empty()) return std::nullopt;
                block.varies.push_back(std::move(label));
            }
        } else {
            return std::nullopt;
        }
    }
    return block;
}

/// The cells of a table row `| a | b | c |`, trimmed; nothing when the line is not a row.
std::optional<std::vector<std::string>> table_cells(std::string_view line) {
    line = trim(line);
    if (line.size() < 2 || line.front() != '|' || line.back() != '|') return std::nullopt;
    return split(line.substr(1, line.size() - 2), "|");
}

/// The option names in backquotes in a table cell: "`-t`, `--tasks`" -> {"-t", "--tasks"}.
std::vector<std::string> quoted_names(std::string_view cell) {
    std::vector<std::string> names;
    std::size_t at = 0;
    while ((at = cell.find('`', at)) != std::string_view::npos) {
        const auto end = cell.find('`', at + 1);
        if (end == std::string_view::npos) break;
        const std::string_view name = cell.substr(at + 1, end - at - 1);
        if (name.starts_with("-")) names.emplace_back(name);
        at = end + 1;
    }
    return names;
}

/// The first "(A to B" range in `text`, thousands separators removed.
std::optional<std::pair<std::string, std::string>> text_range(std::string_view text) {
    for (std::size_t at = text.find('('); at != std::string_view::npos;
         at = text.find('(', at + 1)) {
        std::size_t i = at + 1;
        const std::size_t a = i;
        while (i < text.size() && (is_digit(text[i]) || text[i] == ',')) ++i;
        if (i == a || text.substr(i, 4) != " to ") continue;
        const std::size_t b = i + 4;
        std::size_t j = b;
        while (j < text.size() && (is_digit(text[j]) || text[j] == ',')) ++j;
        if (j == b) continue;
        return std::pair{without_commas(text.substr(a, i - a)),
                         without_commas(text.substr(b, j - b))};
    }
    return std::nullopt;
}

/// What --help says of one option: its default (CLI11's "=VALUE" after the name, empty when
/// none) and its range ("[A - B]"), from the line that names it.
struct HelpEntry {
    std::string default_value;
    std::optional<std::pair<std::string, std::string>> range;
};

std::optional<HelpEntry> help_entry(std::string_view help, std::string_view name) {
    for (const std::string& line : split_lines(help)) {
        // An option line starts with its names, e.g. "  -t,--tasks INT:INT in [1 - 1000]=3"
        // or "  --seed UINT=1      seed of ...".
        const std::string_view s = trim(line);
        if (!s.starts_with("-")) continue;
        const std::string_view names = s.substr(0, s.find(' '));
        bool named = false;
        for (const std::string& n : split(names, ",")) named = named || n == name;
        if (!named) continue;
        // The description follows the names and type after a run of blanks, or on the next line.
        const std::string_view spec = s.substr(0, s.find("  "));
        HelpEntry entry;
        if (const auto eq = spec.find('='); eq != std::string_view::npos) {
            entry.default_value = std::string(spec.substr(eq + 1));
        }
        if (const auto open = spec.find('['); open != std::string_view::npos) {
            const auto dash = spec.find(" - ", open);
            const auto close = spec.find(']', open);
            if (dash != std::string_view::npos && close != std::string_view::npos && dash < close) {
                entry.range = std::pair{std::string(trim(spec.substr(open + 1, dash - open - 1))),
                                        std::string(trim(spec.substr(dash + 3, close - dash - 3)))};
            }
        }
        return entry;
    }
    return std::nullopt;
}

}  // namespace

QuotedScan scan_quoted(std::string_view file, std::string_view text) {
    QuotedScan scan;
    const std::vector<std::string> lines = split_lines(text);
    auto problem = [&](std::size_t index, std::string message) {
        scan.problems.push_back(
            {std::string(file), static_cast<int>(index) + 1, std::move(message), {}});
    };
    std::size_t i = 0;
    while (i < lines.size()) {
        // A code block: skip it whole, comments in it are examples.
        if (const auto fence = parse_fence(lines[i])) {
            i = closing_fence(lines, i, *fence) + 1;
            continue;
        }
        if (const auto comment = tagged_comment(lines[i], "output:")) {
            const std::size_t marker = i++;
            auto block = parse_output_comment(*comment);
            if (!block) {
                problem(marker,
                        "output comment must read <!-- output: PROGRAM [ARG...] "
                        "[| varies: LABEL, ...] [| excerpt] -->");
                continue;
            }
            const auto fence = i < lines.size() ? parse_fence(lines[i]) : std::nullopt;
            if (!fence) {
                problem(marker, "output of " + block->program +
                                    " must be followed at once by a fenced code block (```text)");
                continue;
            }
            const std::size_t close = closing_fence(lines, i, *fence);
            if (close == lines.size()) {
                problem(marker, "output of " + block->program + ": its code block is never closed");
                break;
            }
            block->marker_line = static_cast<int>(marker) + 1;
            block->content.assign(lines.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                  lines.begin() + static_cast<std::ptrdiff_t>(close));
            scan.outputs.push_back(std::move(*block));
            i = close + 1;
            continue;
        }
        if (const auto comment = tagged_comment(lines[i], "options:")) {
            const std::size_t marker = i++;
            const std::vector<std::string> command = split_blanks(*comment);
            if (command.size() != 1) {
                problem(marker, "options comment must read <!-- options: PROGRAM -->");
                continue;
            }
            OptionTable table;
            table.marker_line = static_cast<int>(marker) + 1;
            table.program = command.front();
            for (; i < lines.size(); ++i) {
                const auto cells = table_cells(lines[i]);
                if (!cells) break;
                if (cells->size() < 2) continue;
                std::vector<std::string> names = quoted_names((*cells)[0]);
                if (names.empty()) continue;  // the header and the separator
                table.rows.push_back({static_cast<int>(i) + 1, std::move(names), (*cells)[1],
                                      cells->size() > 2 ? (*cells)[2] : std::string()});
            }
            if (table.rows.empty()) {
                problem(marker, "options of " + table.program +
                                    " must be followed at once by a table whose first column "
                                    "names options in backquotes");
                continue;
            }
            scan.tables.push_back(std::move(table));
            continue;
        }
        ++i;
    }
    return scan;
}

std::string comparable(std::string_view line, const std::vector<std::string>& varies) {
    std::string words;
    for (const std::string& word : split_blanks(line)) {
        if (!words.empty()) words += ' ';
        words += word;
    }
    const bool all_vary = std::any_of(varies.begin(), varies.end(), [&](const std::string& label) {
        return words.find(label) != std::string::npos;
    });
    std::string out;
    std::size_t i = 0;
    while (i < words.size()) {
        if (!is_digit(words[i])) {
            out += words[i++];
            continue;
        }
        // A number: digits, with ',' or '.' between digits.
        const std::size_t start = i;
        bool separated = false;
        while (i < words.size()) {
            if (is_digit(words[i])) {
                ++i;
            } else if ((words[i] == ',' || words[i] == '.') && i + 1 < words.size() &&
                       is_digit(words[i + 1])) {
                separated = true;
                ++i;
            } else {
                break;
            }
        }
        const bool percent = i < words.size() && words[i] == '%';
        if (all_vary || separated || percent) {
            out += '#';
        } else {
            out.append(words, start, i - start);
        }
    }
    return out;
}

std::vector<Problem> compare_output(std::string_view file, const OutputBlock& block,
                                    std::string_view output) {
    std::vector<std::string> quoted;
    for (const std::string& line : block.content) {
        if (!trim(line).empty()) quoted.push_back(comparable(line, block.varies));
    }
    std::vector<std::string> printed;
    for (const std::string& line : split_lines(output)) {
        if (!trim(line).empty()) printed.push_back(comparable(line, block.varies));
    }
    // Each quoted line takes one printed line equal to it; what is left on either side differs.
    std::vector<bool> taken(printed.size(), false);
    std::vector<std::string> missing;
    for (const std::string& line : quoted) {
        bool found = false;
        for (std::size_t k = 0; k < printed.size() && !found; ++k) {
            if (!taken[k] && printed[k] == line) found = taken[k] = true;
        }
        if (!found) missing.push_back(line);
    }
    std::vector<std::string> extra;
    if (!block.excerpt) {
        for (std::size_t k = 0; k < printed.size(); ++k) {
            if (!taken[k]) extra.push_back(printed[k]);
        }
    }
    if (missing.empty() && extra.empty()) return {};

    std::vector<std::string> details;
    details.push_back("(# stands for a measurement; - is the text, + what the program printed)");
    for (const std::string& line : missing) details.push_back("- " + line);
    for (const std::string& line : extra) details.push_back("+ " + line);
    std::string command = block.program;
    for (const std::string& arg : block.args) command += ' ' + arg;
    return {{std::string(file), block.marker_line,
             "the text's output of `" + command + "` is not what it prints", std::move(details)}};
}

std::vector<Problem> compare_options(std::string_view file, const OptionTable& table,
                                     std::string_view help) {
    std::vector<Problem> problems;
    for (const OptionRow& row : table.rows) {
        auto problem = [&](std::string message) {
            problems.push_back({std::string(file), row.line, std::move(message), {}});
        };
        // One default per option named by its long name; "-t", "--tasks" is one option.
        std::vector<std::string> options;
        for (const std::string& name : row.names) {
            if (name.starts_with("--")) options.push_back(name);
        }
        if (options.empty()) options.push_back(row.names.front());
        std::vector<std::string> defaults = options.size() == 1
                                                ? std::vector<std::string>{row.default_text}
                                                : split(row.default_text, ", ");
        if (defaults.size() != options.size()) {
            problem("the row names " + std::to_string(options.size()) + " options but gives " +
                    std::to_string(defaults.size()) + " defaults");
            continue;
        }
        for (std::size_t k = 0; k < options.size(); ++k) {
            const auto entry = help_entry(help, options[k]);
            if (!entry) {
                problem(table.program + " has no option " + options[k]);
                continue;
            }
            const std::string wanted = defaults[k] == "off" ? "" : without_commas(defaults[k]);
            if (entry->default_value != wanted) {
                problem(
                    "the default of " + options[k] + " is " +
                    (entry->default_value.empty() ? "off (a flag) or none" : entry->default_value) +
                    " in " + table.program + " --help, " + defaults[k] + " in the text");
            }
            if (options.size() == 1) {
                const auto range = text_range(row.meaning);
                if (range && entry->range && *range != *entry->range) {
                    problem("the range of " + options[k] + " is " + entry->range->first + " to " +
                            entry->range->second + " in " + table.program + " --help, " +
                            range->first + " to " + range->second + " in the text");
                }
            }
        }
    }
    return problems;
}

}  // namespace snippets
