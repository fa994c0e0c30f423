// Watching every folder under a directory with inotify for saves (also save-by-rename), new
// and deleted files; new folders are watched as they appear; editors' swap files do not count.
#pragma once

#include <filesystem>
#include <map>
#include <string_view>

namespace tutor {

class FileWatch {
public:
    /// Watches `root` and every folder under it; throws when inotify is unavailable.
    explicit FileWatch(const std::filesystem::path& root);
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    /// The descriptor to poll for readability.
    int fd() const { return fd_; }

    /// Reads every queued event without blocking, watching new folders; true when one of
    /// them is a change to a file that matters.
    bool drain();

    /// True for names editors use for their own files (".x.swp", "x~", "4913", "#x#").
    static bool is_editor_noise(std::string_view name);

private:
    void watch_tree(const std::filesystem::path& dir);

    int fd_ = -1;
    std::map<int, std::filesystem::path> folders_;  // watch descriptor -> folder
};

}  // namespace tutor
