// Watching every folder under a directory for changes to files: saves (also save-by-rename),
// new and deleted files, in folders that appear later too; editors' own files do not count.
// With inotify when it can; when it cannot, or when asked to, by comparing snapshots of the
// files' sizes and modification times (file_snapshot.hpp) every second.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "file_snapshot.hpp"

// inotify cannot watch when the kernel has none (ENOSYS), when the limit of instances
// (EMFILE) or of watched folders (ENOSPC, fs.inotify.max_user_watches) is reached, or when a
// folder cannot be watched (EACCES, EPERM...); and on a network or Windows-mounted
// filesystem (NFS, SMB, WSL's 9p drives) it watches, but misses saves made from elsewhere.
// In each case the watch says why, once, and polls instead; a folder that vanishes while it
// is being watched is no reason.

namespace tutor {

class FileWatch {
public:
    /// Called once with why (one line, no final period) when the watch falls back to polling:
    /// from the constructor, or later when a new folder cannot be watched. Not called when
    /// polling was forced: the caller knows why.
    using PollingNotice = std::function<void(const std::string& why)>;

    /// Watches `root` and every folder under it; polls from the start when `force_polling`.
    FileWatch(const std::filesystem::path& root, bool force_polling, PollingNotice notice);
    ~FileWatch();
    FileWatch(const FileWatch&) = delete;
    FileWatch& operator=(const FileWatch&) = delete;

    /// True when changes are found by comparing snapshots rather than by inotify.
    bool polling() const { return fd_ < 0; }

    /// The descriptor to poll for readability; -1 when polling (poll() skips a negative one).
    int fd() const { return fd_; }

    /// How long a poll() on fd() should wait before take_changes() is called anyway, in
    /// milliseconds: -1 (for ever) with inotify, a second when polling.
    int timeout_ms() const { return polling() ? static_cast<int>(poll_interval.count()) : -1; }

    /// True when a file that matters changed since the last call (or since the watch began):
    /// reads every event inotify queued, without blocking, and watches new folders; or takes a
    /// snapshot and compares it with the last one.
    bool take_changes();

    /// Waits up to `timeout` and then takes the changes; false at once when a signal arrives.
    bool wait_for_change(std::chrono::milliseconds timeout);

    /// How often the files are compared when polling.
    static constexpr std::chrono::milliseconds poll_interval{1000};

private:
    /// Watches `dir` and the folders under it; false (with why_) when inotify cannot.
    bool watch_tree(const std::filesystem::path& dir);
    /// Gives inotify up for good: polls from now on, and says why.
    void fall_back(const std::string& why);
    /// take_changes() with inotify.
    bool drain();

    std::filesystem::path root_;
    PollingNotice notice_;
    int fd_ = -1;                                   // inotify's, -1 when polling
    std::map<int, std::filesystem::path> folders_;  // watch descriptor -> folder
    std::string why_;                               // why the last inotify_add_watch failed
    FileSnapshot last_;                             // when polling: the files as last seen
};

}  // namespace tutor
