// A test helper that makes descriptor leaks observable without being fooled by the rest of
// the process: a DescriptorSnapshot records which descriptors are open and what each refers
// to (socket:[1234], anon_inode:[eventpoll], a path), and `opened_since` lists those that are
// open now and were not then. A test compares only what it opened itself: a descriptor that an
// earlier test case, or another thread, closes meanwhile does not count (Linux only, like the
// runtime).
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace testing {

/// The process's open descriptors at one moment: number -> what it refers to.
class DescriptorSnapshot {
public:
    DescriptorSnapshot() {
        DIR* dir = ::opendir("/proc/self/fd");
        if (dir == nullptr) return;
        const int own = ::dirfd(dir);
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] == '.') continue;
            const int fd = std::atoi(entry->d_name);
            if (fd == own) continue;
            targets_[fd] = target_of(entry->d_name);
        }
        ::closedir(dir);
    }

    /// Descriptors open now that were not open at the snapshot (or that now refer to something
    /// else), as "fd -> target" strings, for the failure message.
    std::vector<std::string> opened_since() const {
        std::vector<std::string> opened;
        for (const auto& [fd, target] : DescriptorSnapshot().targets_) {
            const auto before = targets_.find(fd);
            if (before == targets_.end() || before->second != target) {
                opened.push_back(std::to_string(fd) + " -> " + target);
            }
        }
        return opened;
    }

    /// How many descriptors the snapshot holds.
    std::size_t size() const noexcept { return targets_.size(); }

private:
    static std::string target_of(const char* name) {
        char buffer[256];
        const std::string link = std::string("/proc/self/fd/") + name;
        const ssize_t length = ::readlink(link.c_str(), buffer, sizeof buffer);
        return length < 0 ? std::string("?")
                          : std::string(buffer, static_cast<std::size_t>(length));
    }

    std::map<int, std::string> targets_;
};

}  // namespace testing
