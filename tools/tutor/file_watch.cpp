// The watch, with inotify or by polling (see file_watch.hpp).
#include "file_watch.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>

namespace tutor {

namespace fs = std::filesystem;

namespace {

constexpr std::uint32_t file_events =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;
constexpr std::uint32_t folder_mask = file_events | IN_DELETE_SELF | IN_ONLYDIR;

/// A filesystem on which inotify sees only the changes made through this kernel: the ones
/// made on the server, or on the Windows side, never make an event.
struct SharedFilesystem {
    std::uint32_t magic;  // statfs's f_type (linux/magic.h)
    const char* name;
};
constexpr std::array<SharedFilesystem, 6> shared_filesystems{{
    {0x6969, "NFS"},
    {0x517B, "SMB"},
    {0xFF534D42, "SMB"},  // cifs
    {0xFE534D42, "SMB"},  // smb2
    {0x01021997, "9p, as WSL mounts Windows drives"},
    {0x786F4256, "a VirtualBox shared folder"},
}};

/// The name of the shared filesystem `dir` is on, if it is on one.
std::optional<std::string> shared_filesystem(const fs::path& dir) {
    struct statfs info {};
    if (::statfs(dir.c_str(), &info) != 0) return std::nullopt;
    const auto magic = static_cast<std::uint32_t>(info.f_type);
    for (const auto& shared : shared_filesystems) {
        if (shared.magic == magic) return shared.name;
    }
    return std::nullopt;
}

/// The value of a limit in /proc/sys/fs/inotify/ ("8192"), or "?" when it cannot be read.
std::string inotify_limit(const std::string& name) {
    std::ifstream in("/proc/sys/fs/inotify/" + name);
    std::string value;
    return in >> value ? value : "?";
}

/// Why inotify_init1 failed with `err`.
std::string init_failure(int err) {
    if (err == EMFILE) {
        return "inotify cannot watch: the limit of inotify instances is reached "
               "(fs.inotify.max_user_instances = " +
               inotify_limit("max_user_instances") + ")";
    }
    if (err == ENOSYS) return "inotify cannot watch: this kernel has no inotify";
    return std::string("inotify cannot watch: ") + std::strerror(err);
}

}  // namespace

FileWatch::FileWatch(const fs::path& root, bool force_polling, PollingNotice notice)
    : root_(root), notice_(std::move(notice)) {
    if (force_polling) {
        last_ = FileSnapshot::take(root_);
        return;
    }
    if (const auto shared = shared_filesystem(root_)) {
        fall_back("exercises/ is on a network or shared filesystem (" + *shared +
                  "), where inotify misses the saves made from the other side");
        return;
    }
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) {
        fall_back(init_failure(errno));
        return;
    }
    if (!watch_tree(root_)) fall_back(why_);
}

FileWatch::~FileWatch() {
    if (fd_ >= 0) ::close(fd_);
}

bool FileWatch::watch_tree(const fs::path& dir) {
    const int wd = ::inotify_add_watch(fd_, dir.c_str(), folder_mask);
    if (wd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) return true;  // gone already, or not a folder
        const auto shown = (dir.lexically_relative(root_.parent_path()) / "").string();
        why_ = "inotify cannot watch " + shown + ": " +
               (err == ENOSPC ? "the limit of watched folders is reached "
                                "(fs.inotify.max_user_watches = " +
                                    inotify_limit("max_user_watches") + ")"
                              : std::string(std::strerror(err)));
        return false;
    }
    folders_[wd] = dir;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code entry_ec;
        if (it->is_directory(entry_ec) && !it->is_symlink(entry_ec) && !watch_tree(it->path()))
            return false;
    }
    return true;
}

void FileWatch::fall_back(const std::string& why) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    folders_.clear();
    last_ = FileSnapshot::take(root_);
    if (notice_) notice_(why);
}

bool FileWatch::take_changes() {
    if (!polling()) return drain();
    auto now = FileSnapshot::take(root_);
    const bool changed = !now.changes_since(last_).empty();
    last_ = std::move(now);
    return changed;
}

bool FileWatch::wait_for_change(std::chrono::milliseconds timeout) {
    const int ms = static_cast<int>(timeout.count());
    if (polling()) {
        if (::poll(nullptr, 0, ms) < 0) return false;  // EINTR: a signal
    } else {
        pollfd fd{fd_, POLLIN, 0};
        if (::poll(&fd, 1, ms) <= 0) return false;  // quiet, or a signal
    }
    return take_changes();
}

bool FileWatch::drain() {
    bool changed = false;
    bool watching = true;  // false once a new folder could not be watched
    alignas(inotify_event) char buffer[16 * 1024];
    for (;;) {
        const ssize_t got = ::read(fd_, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) break;  // EAGAIN: nothing more queued
        for (ssize_t offset = 0; offset < got;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            if (event->mask & IN_Q_OVERFLOW) {
                changed = true;  // events were lost: treat as a change, and look for new folders
                const auto roots = folders_;
                for (const auto& [wd, dir] : roots) watching = watching && watch_tree(dir);
                continue;
            }
            if (event->mask & IN_IGNORED) {
                folders_.erase(event->wd);
                continue;
            }
            const auto folder = folders_.find(event->wd);
            if (folder == folders_.end() || event->len == 0) continue;
            const std::string_view name(event->name);
            if (event->mask & IN_ISDIR) {
                if (event->mask & (IN_CREATE | IN_MOVED_TO)) {
                    watching = watching && watch_tree(folder->second / std::string(name));
                    changed = true;
                }
                continue;
            }
            if (!is_editor_noise(name)) changed = true;
        }
    }
    if (!watching) {
        // What happens in the folder that could not be watched was missed: check to be sure.
        fall_back(why_);
        return true;
    }
    return changed;
}

}  // namespace tutor
