// A test helper for "this happens while the executor sleeps": whether a thread of this process
// is parked in epoll_wait (blocked in it with a timeout other than 0), read from
// /proc/self/task/TID/syscall. A test that wants to prove that a wake from another thread ends
// the executor's sleep waits until the executor is there, instead of sleeping a few
// milliseconds and hoping it got there first (Linux only, like the runtime).
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace testing {

/// The kernel's id of the calling thread, for parked_in_epoll_wait from another thread.
inline pid_t this_thread_id() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

/// True if thread `tid` of this process is blocked in epoll_wait (or epoll_pwait) with a
/// timeout other than 0: the executor's park, not its collection of events without waiting.
inline bool parked_in_epoll_wait(pid_t tid) {
    std::ifstream file("/proc/self/task/" + std::to_string(tid) + "/syscall");
    std::string line;
    if (!std::getline(file, line)) return false;
    std::istringstream fields(line);
    long number = -1;
    if (!(fields >> number)) return false;  // "running": not in a system call
    bool epoll = false;
#ifdef SYS_epoll_wait
    epoll = epoll || number == SYS_epoll_wait;
#endif
#ifdef SYS_epoll_pwait
    epoll = epoll || number == SYS_epoll_pwait;
#endif
    if (!epoll) return false;
    std::string fd, events, max_events, timeout;
    fields >> fd >> events >> max_events >> timeout;  // the arguments, in hexadecimal
    return !timeout.empty() && timeout != "0x0";
}

}  // namespace testing
