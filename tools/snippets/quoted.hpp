// Quoted program output: the text says what a demo prints and which options it has, and these
// checks hold it to what the built program really prints. Like snippets.hpp, nothing here runs
// a program or reads a file; main.cpp does that and hands the output in.
//
// The formats, in full:
//  - `<!-- output: PROGRAM [ARG...] [| varies: LABEL, LABEL...] [| excerpt] -->`, then at once a
//    fenced code block: what PROGRAM (a path from the build folder) prints, run with those
//    arguments, stdout and stderr together. Lines are compared with their runs of blanks made
//    one, so column widths may differ. Numbers that are measurements match any number: a
//    number written with a decimal point or a thousands separator, or followed by '%'. Every
//    other number (a count the defaults decide: tasks, steps, requests) must be the same. A
//    line that contains a LABEL holds only measurements. Without `excerpt`, the block and
//    the output have the same lines; with it, every line of the block is in the output. The
//    order of lines is not compared: concurrent tasks may finish in another order on a loaded
//    machine.
//  - `<!-- options: PROGRAM -->`, then at once a Markdown table whose first column names
//    options in backquotes and whose second column is their default: each default must be the
//    one PROGRAM's --help shows (CLI11's `=VALUE`; `off` for a flag, which shows none), and a
//    range "(A to B" in the row must be the one --help shows as "[A - B]". Thousands
//    separators in the table are ignored; a row naming two options gives two defaults, "A, B".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "snippets.hpp"

namespace snippets {

/// A `<!-- output: ... -->` comment and the code block after it.
struct OutputBlock {
    int marker_line = 0;               // 1-based line of the comment
    std::string program;               // from the build folder
    std::vector<std::string> args;     // given to it, split on blanks
    std::vector<std::string> varies;   // labels of lines that hold only measurements
    bool excerpt = false;              // the block shows some of the output's lines
    std::vector<std::string> content;  // the block's lines
};

/// A `<!-- options: PROGRAM -->` comment and the table after it.
struct OptionRow {
    int line = 0;                    // 1-based
    std::vector<std::string> names;  // e.g. "-t", "--tasks"
    std::string default_text;        // the second column as written
    std::string meaning;             // the third column, or empty
};

struct OptionTable {
    int marker_line = 0;
    std::string program;
    std::vector<OptionRow> rows;
};

struct QuotedScan {
    std::vector<OutputBlock> outputs;
    std::vector<OptionTable> tables;
    std::vector<Problem> problems;  // a malformed comment, no block or table after it
};

/// Find every output block and option table of a Markdown file. `file` names it in problems.
QuotedScan scan_quoted(std::string_view file, std::string_view text);

/// A line as it is compared: blanks trimmed and runs of them made one, measurements replaced
/// by '#' (every number, when the line contains one of `varies`).
std::string comparable(std::string_view line, const std::vector<std::string>& varies);

/// Problems of a block against what its program printed; none when they agree.
std::vector<Problem> compare_output(std::string_view file, const OutputBlock& block,
                                    std::string_view output);

/// Problems of an option table against its program's --help; none when they agree.
std::vector<Problem> compare_options(std::string_view file, const OptionTable& table,
                                     std::string_view help);

}  // namespace snippets
