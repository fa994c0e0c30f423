// The inotify watch (see file_watch.hpp).
#include "file_watch.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tutor {

namespace {

constexpr std::uint32_t file_events =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE;
constexpr std::uint32_t folder_mask = file_events | IN_DELETE_SELF | IN_ONLYDIR;

}  // namespace

FileWatch::FileWatch(const std::filesystem::path& root) {
    fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) throw std::runtime_error(std::string("inotify: ") + std::strerror(errno));
    watch_tree(root);
}

FileWatch::~FileWatch() {
    if (fd_ >= 0) ::close(fd_);
}

void FileWatch::watch_tree(const std::filesystem::path& dir) {
    const int wd = ::inotify_add_watch(fd_, dir.c_str(), folder_mask);
    if (wd < 0) return;  // gone already, or not a folder
    folders_[wd] = dir;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_directory(ec) && !it->is_symlink(ec)) watch_tree(it->path());
    }
}

bool FileWatch::is_editor_noise(std::string_view name) {
    return name.empty() || name.front() == '.' || name.front() == '#' || name.back() == '~' ||
           name == "4913" || name.ends_with(".swp") || name.ends_with(".swx") ||
           name.ends_with(".tmp");
}

bool FileWatch::drain() {
    bool changed = false;
    alignas(inotify_event) char buffer[16 * 1024];
    for (;;) {
        const ssize_t got = ::read(fd_, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return changed;  // EAGAIN: nothing more queued
        for (ssize_t offset = 0; offset < got;) {
            const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
            offset += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
            if (event->mask & IN_Q_OVERFLOW) {
                changed = true;  // events were lost: treat as a change, and look for new folders
                const auto roots = folders_;
                for (const auto& [wd, dir] : roots) watch_tree(dir);
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
                    watch_tree(folder->second / std::string(name));
                    changed = true;
                }
                continue;
            }
            if (!is_editor_noise(name)) changed = true;
        }
    }
}

}  // namespace tutor
