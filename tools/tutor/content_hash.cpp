// Content hashing of files and folders (see content_hash.hpp).
#include "content_hash.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "project.hpp"

namespace tutor {

void ContentHash::add(std::string_view bytes) {
    for (const char c : bytes) {
        state_ ^= static_cast<unsigned char>(c);
        state_ *= 0x100000001b3ULL;  // FNV prime
    }
}

void ContentHash::add_file(const std::filesystem::path& file, std::string_view label) {
    const std::string content = read_text_file(file);
    add(label);
    add(std::string_view("\0", 1));
    add(std::to_string(content.size()));
    add(std::string_view("\0", 1));
    add(content);
}

void ContentHash::add_tree(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    add("tree:" + dir.filename().string() + ":" + std::to_string(files.size()));
    for (const auto& file : files)
        add_file(file, file.lexically_relative(dir.parent_path()).string());
}

std::string ContentHash::hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(state_));
    return text;
}

}  // namespace tutor
