// A snapshot of the files under a folder (each file's size and modification time, editors' own
// files left out), and what changed between two of them: what `tutor watch` compares every
// second when inotify cannot watch. Reading a folder that vanished or cannot be read is not
// an error: its files are simply not in the snapshot.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string_view>
#include <vector>

namespace tutor {

/// True for names editors use for their own files (".x.swp", "x~", "4913", "#x#", "x.tmp"):
/// a change to one of them is not a save of the learner's work.
bool is_editor_noise(std::string_view name);

/// What a snapshot keeps of a file: two saves that leave both equal look like no change, which
/// takes a filesystem with coarse times (FAT's two seconds) and a save of the same length.
struct FileStamp {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified{};

    bool operator==(const FileStamp&) const = default;
};

class FileSnapshot {
public:
    /// The files under `root` at every depth, but not editors' files (is_editor_noise) and
    /// not through symbolic links to folders; empty when `root` does not exist.
    static FileSnapshot take(const std::filesystem::path& root);

    /// The files that differ from `earlier`: changed (size or time), new, or deleted; in path
    /// order, each once.
    std::vector<std::filesystem::path> changes_since(const FileSnapshot& earlier) const;

    /// How many files the snapshot holds.
    std::size_t size() const { return files_.size(); }

private:
    std::map<std::filesystem::path, FileStamp> files_;  // path (under root, as given) -> stamp
};

}  // namespace tutor
