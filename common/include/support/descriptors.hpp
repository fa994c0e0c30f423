// Descriptor limits: programs that open many sockets at once (a demo with thousands of
// connections, a test with a thousand) raise the soft limit on open descriptors, which is
// often 1,024, towards the hard limit, as servers do at start-up.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

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

/// A server's start-up: ask for plenty of descriptors (each client is one), and say on stderr,
/// as `program`, when the hard limit leaves fewer than a few thousand.
inline void raise_descriptor_limit_for_server(const char* program) {
    const rlim_t limit = raise_descriptor_limit(1 << 20);
    if (limit < 4096) {
        std::fprintf(stderr,
                     "%s: at most %llu descriptors (the hard limit); raise it with `ulimit -Hn` "
                     "to serve more clients\n",
                     program, static_cast<unsigned long long>(limit));
    }
}

}  // namespace support
