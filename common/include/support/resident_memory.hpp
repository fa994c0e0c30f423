// The process's resident memory, so a demo or a benchmark can say what a task weighs: read
// it before and after making many tasks, and divide the difference.
#pragma once

#include <fstream>
#include <string>

namespace support {

/// Resident memory of this process in KiB (VmRSS in /proc/self/status); 0 if it is not there.
inline long resident_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0;
}

}  // namespace support
