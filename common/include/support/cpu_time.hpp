// CPU time and wall time, so a demo can show what a way of waiting costs: a busy-polling
// executor burns as much CPU as wall time, a sleeping one almost none.
#pragma once

#include <sys/resource.h>

#include <chrono>

namespace support {

/// CPU time (user + system) consumed so far by every thread of this process.
inline std::chrono::microseconds process_cpu_time() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    auto to_us = [](const timeval& tv) {
        return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
    };
    return std::chrono::duration_cast<std::chrono::microseconds>(to_us(usage.ru_utime) +
                                                                 to_us(usage.ru_stime));
}

/// Measures wall time and CPU time from construction.
class Stopwatch {
public:
    Stopwatch() : wall_start_(std::chrono::steady_clock::now()), cpu_start_(process_cpu_time()) {}

    double wall_seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_)
            .count();
    }
    double cpu_seconds() const {
        return std::chrono::duration<double>(process_cpu_time() - cpu_start_).count();
    }

private:
    std::chrono::steady_clock::time_point wall_start_;
    std::chrono::microseconds cpu_start_;
};

}  // namespace support
