// AsyncFd: a non-blocking file descriptor registered with the running executor's I/O driver,
// and the one loop every I/O future is made of: wait until the descriptor is ready, try the
// system call, and on EAGAIN clear the readiness and wait again.
//
// Guarantees: the descriptor is closed exactly once, when the AsyncFd is destroyed (after it
// is removed from epoll); a system call's failure other than EAGAIN or EINTR comes out as a
// std::system_error carrying its errno; no wake is lost between an EAGAIN and the wait that
// follows it (the tick, rt/io_driver.hpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "rt/coop.hpp"
#include "rt/io_driver.hpp"
#include "rt/scheduler.hpp"

namespace rt {

class AsyncFd {
public:
    /// Take ownership of `fd`, make it non-blocking, and register it with the executor that
    /// runs on this thread. Throws std::logic_error outside a running executor (and closes
    /// `fd`: ownership was given).
    explicit AsyncFd(int fd) : AsyncFd(fd, true) {}

    /// Says that a descriptor is non-blocking already (accept4 or socket with SOCK_NONBLOCK).
    struct NonBlocking {};

    /// The same, for a descriptor that is non-blocking already: no fcntl, two system calls
    /// fewer per accepted connection (new in chapter 7).
    AsyncFd(int fd, NonBlocking) : AsyncFd(fd, false) {}

private:
    AsyncFd(int fd, bool make_non_blocking)
        : fd_(fd), io_(std::make_unique<detail::ScheduledIo>()) {
        if (detail::current_runtime == nullptr) {
            ::close(fd_);
            throw std::logic_error(
                "an AsyncFd (socket, listener) needs a running executor on this thread: create "
                "it inside a task");
        }
        poller_ = detail::current_runtime->io_driver().poller();
        if (make_non_blocking) {
            const int flags = ::fcntl(fd_, F_GETFL);
            if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
                const int error = errno;
                ::close(fd_);
                throw std::system_error(error, std::generic_category(), "fcntl(O_NONBLOCK)");
            }
        }
        try {
            poller_->add(fd_, io_.get());
        } catch (...) {
            ::close(fd_);
            throw;
        }
    }

public:
    AsyncFd(AsyncFd&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)),
          io_(std::move(other.io_)),
          poller_(std::move(other.poller_)) {}
    AsyncFd& operator=(AsyncFd&& other) noexcept {
        AsyncFd old(std::move(*this));
        fd_ = std::exchange(other.fd_, -1);
        io_ = std::move(other.io_);
        poller_ = std::move(other.poller_);
        return *this;  // `old` closes what this one held
    }
    /// Any thread: the ScheduledIo is freed by the driver's next turn, not here, for the
    /// driver may be handling an event that points to it (Poller::deregister).
    ~AsyncFd() {
        if (fd_ < 0) return;
        // First: epoll must never report a closed (and reused) number.
        poller_->deregister(fd_, std::move(io_));
        ::close(fd_);
    }

    int fd() const noexcept { return fd_; }

    /// Ready with the readiness matching `interest`, or pending with cx's waker kept.
    Poll<ReadyEvent> poll_ready(Context& cx, Interest interest) {
        return io_->poll_ready(cx, interest);
    }

    /// Forget `event`'s readiness: a system call said EAGAIN since it was seen.
    void clear_ready(ReadyEvent event) { io_->clear_ready(event); }

    // snippet-begin: poll-io
    /// The I/O loop. `call` is a non-blocking system call returning a count, or -1 with errno
    /// set. Ready with its count once it succeeds; pending while it would block; throws
    /// std::system_error for any other failure.
    template <class Call>
    Poll<std::size_t> poll_io(Context& cx, Interest interest, Call call) {
        return poll_io(cx, interest, 0, call);
    }

    /// The same, for a recv asked for `asked` bytes from a stream socket. New in chapter 7:
    /// receiving fewer than asked shows that the kernel's buffer was emptied, as surely as an
    /// EAGAIN would, so the readiness is cleared at once: the next call waits for the next edge
    /// instead of making a system call only to hear EAGAIN. That is one recv saved per request
    /// of the HTTP benchmark (Tokio does the same). The tick still protects an event reported
    /// since the call, as for EAGAIN.
    ///
    /// Not for send. A short send does fill the buffer, but the next EPOLLOUT edge comes only
    /// once a third of the buffer is free again, which on a small buffer can take a delayed
    /// ACK (40 ms), where a send retried at once finds what the last ACK freed: a megabyte
    /// through the tests' small buffers took 7 s instead of 18 ms that way.
    ///
    /// One exception: TCP urgent data. recv stops short at the urgent mark with data still
    /// queued behind it, and no new edge will come for that data. epoll reports the mark as
    /// EPOLLPRI (the `priority` bit), and while it is set a short read proves nothing: the
    /// loop goes on to EAGAIN, as chapter 5's did.
    template <class Call>
    Poll<std::size_t> poll_io(Context& cx, Interest interest, std::size_t asked, Call call) {
        if (!coop::proceed(cx)) return pending;  // new in chapter 9: the budget (rt/coop.hpp)
        for (;;) {
            Poll<ReadyEvent> ready = poll_ready(cx, interest);
            if (ready.is_pending()) return pending;  // the driver has our waker
            const ssize_t result = call();
            if (result > 0 && static_cast<std::size_t>(result) < asked &&
                (ready.value().ready & detail::priority) == 0) {
                clear_ready(ready.value());  // drained (or filled): no EAGAIN needed to know
            }
            if (result >= 0) {
                coop::spend();
                return static_cast<std::size_t>(result);
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                clear_ready(ready.value());  // and loop: register, or find a newer event
            } else if (errno != EINTR) {
                throw std::system_error(errno, std::generic_category());
            }
        }
    }
    // snippet-end: poll-io

private:
    int fd_;                                   // owned; -1 once moved from
    std::unique_ptr<detail::ScheduledIo> io_;  // its address is the epoll registration's data
    std::shared_ptr<detail::Poller> poller_;   // outlives the driver if this fd does
};

}  // namespace rt
