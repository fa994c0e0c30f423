// Trimming a failed build's output to the first few compiler errors, each with the lines that
// locate it and its source excerpt and notes; ninja's progress and command lines removed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// The errors worth showing from a build's output.
struct CompilerErrors {
    std::vector<std::string> lines;  ///< what to print, paths relative to the root
    int total = 0;                   ///< how many errors the output holds
    int shown = 0;                   ///< how many of them `lines` shows
};

/// Picks the first `max_errors` errors of `build_output` (gcc's or clang's format, and the
/// linker's "undefined reference"), at most `max_lines` lines in all. When no error line
/// is recognised, the last `max_lines` lines of the output that are not ninja's own.
CompilerErrors trim_compiler_errors(std::string_view build_output, std::string_view root,
                                    std::size_t max_errors = 3, std::size_t max_lines = 25);

}  // namespace tutor
