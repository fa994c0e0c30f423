// Paths in compiler and test output made relative to the project root ("exercises/..." rather
// than "../exercises/...", as the compiler runs in build/), and line clipping.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// `line` with `root`'s absolute path removed and each path token starting with "../"
/// (relative to build/, one level below the root) stripped of that "../".
std::string relative_to_root(std::string_view line, std::string_view root);

/// `line` cut to `width` characters, "..." marking the cut.
std::string clip_line(std::string_view line, std::size_t width);

/// Splits text into lines, without their '\n'.
std::vector<std::string_view> split_lines(std::string_view text);

}  // namespace tutor
