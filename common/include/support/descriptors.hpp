// Descriptor limits: programs that open many sockets at once (a demo with thousands of
// connections, a test with a thousand) raise the soft limit on open descriptors, which is
// often 1,024, towards the hard limit, as servers do at start-up.
#pragma once

#include <sys/resource.h>

#include <algorithm>

namespace support {

/// Raise the soft limit on open descriptors to `wanted`, or to the hard limit if that is
/// lower. Returns the soft limit in force afterwards.
inline rlim_t raise_descriptor_limit(rlim_t wanted) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = std::min(wanted, limit.rlim_max);
        ::setrlimit(RLIMIT_NOFILE, &limit);
        ::getrlimit(RLIMIT_NOFILE, &limit);
    }
    return limit.rlim_cur;
}

}  // namespace support
