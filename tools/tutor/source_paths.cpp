// Root-relative paths and line clipping for tool output (see source_paths.hpp).
#include "source_paths.hpp"

namespace tutor {

std::string relative_to_root(std::string_view line, std::string_view root) {
    std::string prefix(root);
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    prefix += '/';

    std::string out;
    out.reserve(line.size());
    std::size_t i = 0;
    while (i < line.size()) {
        const bool token_start = i == 0 || std::string_view(" \t'\"(`\u2018").find(line[i - 1]) !=
                                               std::string_view::npos;
        if (token_start && prefix.size() > 1 && line.substr(i).starts_with(prefix)) {
            i += prefix.size();
            continue;
        }
        if (token_start && line.substr(i).starts_with("../")) {
            i += 3;
            continue;
        }
        out += line[i++];
    }
    return out;
}

std::string clip_line(std::string_view line, std::size_t width) {
    if (line.size() <= width) return std::string(line);
    return std::string(line.substr(0, width > 3 ? width - 3 : 0)) + "...";
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const auto end = text.find('\n');
        std::string_view line = text.substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    return lines;
}

}  // namespace tutor
