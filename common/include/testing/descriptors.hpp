// A test helper that makes descriptor leaks observable: how many file descriptors this
// process has open, counted in /proc/self/fd, so a test can check that sockets, eventfds and
// epoll instances are all closed again (Linux only, like the runtime).
#pragma once

#include <dirent.h>

namespace testing {

/// Descriptors this process has open.
inline int open_descriptors() {
    int count = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (const dirent* entry = ::readdir(dir)) {
            if (entry->d_name[0] != '.') ++count;
        }
        ::closedir(dir);
    }
    return count - 1;  // the one opendir held
}

}  // namespace testing
