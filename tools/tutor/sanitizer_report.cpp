// Finding a sanitizer's report (see sanitizer_report.hpp).
#include "sanitizer_report.hpp"

#include <algorithm>

namespace tutor {

std::vector<std::string> sanitizer_report(std::string_view output, std::string_view root,
                                          std::size_t max_lines) {
    // What each sanitizer prints first: "WARNING: ThreadSanitizer: data race",
    // "==1==ERROR: AddressSanitizer: heap-use-after-free", "==1==ERROR: LeakSanitizer",
    // "a.cpp:3:5: runtime error: signed integer overflow" (UBSan).
    static constexpr std::string_view markers[] = {"WARNING: ThreadSanitizer",
                                                   "ERROR: AddressSanitizer",
                                                   "ERROR: LeakSanitizer", "runtime error:"};
    std::size_t start = std::string_view::npos;
    for (const std::string_view marker : markers) start = std::min(start, output.find(marker));
    if (start == std::string_view::npos) return {};
    start = output.rfind('\n', start);
    start = start == std::string_view::npos ? 0 : start + 1;

    const std::string prefix = std::string(root) + "/";
    std::vector<std::string> lines;
    for (std::size_t at = start; at < output.size() && lines.size() < max_lines;) {
        std::size_t end = output.find('\n', at);
        if (end == std::string_view::npos) end = output.size();
        std::string line(output.substr(at, end - at));
        if (!root.empty()) {
            for (std::size_t p = line.find(prefix); p != std::string::npos;
                 p = line.find(prefix, p))
                line.erase(p, prefix.size());
        }
        lines.push_back(std::move(line));
        at = end + 1;
    }
    return lines;
}

}  // namespace tutor
