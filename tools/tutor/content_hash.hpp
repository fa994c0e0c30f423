// A hash of the content of files, to know when a remembered result (an exercise's progress)
// no longer holds: any change to any of the files gives another hash.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace tutor {

/// FNV-1a, 64 bits, over everything added in order. Not cryptographic: it detects changes.
class ContentHash {
public:
    void add(std::string_view bytes);
    /// Adds `label` (so a renamed file changes the hash) and the file's content.
    void add_file(const std::filesystem::path& file, std::string_view label);
    /// Adds every regular file under `dir`, in sorted order, labelled with its path
    /// relative to `dir`'s parent; a missing folder adds its absence.
    void add_tree(const std::filesystem::path& dir);
    /// The hash as 16 hex digits.
    std::string hex() const;

private:
    std::uint64_t state_ = 0xcbf29ce484222325ULL;  // FNV offset basis
};

}  // namespace tutor
