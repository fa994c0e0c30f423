// The drivers as the interleaving explorer sees them: the model-check program's stand-in for
// rt/multi_thread/driver.hpp, found before it on that program's include path only. The same
// lock as the real Driver's; park() stands for epoll_wait on the runtime's eventfd: it returns
// once the eventfd has been written, and reads it, as the real driver's turn does. No sockets
// and no timers: what the model checks is the parker's protocol around them.
#pragma once

#include <poll.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "model/explorer.hpp"
#include "rt/sync/primitives.hpp"

namespace rt::detail {

class Driver {
public:
    explicit Driver(int wake_fd) : wake_fd_(wake_fd) {}

    bool try_lock() noexcept { return !held_.exchange(true, std::memory_order_acquire); }
    void unlock() noexcept { held_.store(false, std::memory_order_release); }

    /// Holder only: sleep until the eventfd is written, then read it.
    std::size_t park() {
        model::block_until([this] { return readable(); }, "waits in epoll_wait");
        std::uint64_t count = 0;
        [[maybe_unused]] const ssize_t got = ::read(wake_fd_, &count, sizeof count);
        return 0;
    }

private:
    bool readable() const {
        pollfd watched{wake_fd_, POLLIN, 0};
        return ::poll(&watched, 1, 0) == 1;
    }

    Atomic<bool> held_{false};
    int wake_fd_;
};

}  // namespace rt::detail
