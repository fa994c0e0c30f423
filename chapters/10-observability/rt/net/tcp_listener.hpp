// TcpListener: a listening TCP socket on the I/O driver; accept() is a future of the next
// connection. Binding to port 0 picks a free port, which local_address() tells.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <system_error>

#include "rt/async_fd.hpp"
#include "rt/future.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_stream.hpp"

namespace rt::net {

class TcpListener {
public:
    /// Listen on `address` (SO_REUSEADDR, so a restarted server can bind its port again).
    /// Throws std::system_error (EADDRINUSE, EACCES, ...), and std::logic_error outside a
    /// running executor.
    static TcpListener bind(SocketAddress address, int backlog = 1024) {
        const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
        const int on = 1;
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
            ::bind(fd, address.get(), address.length()) < 0 || ::listen(fd, backlog) < 0) {
            const int error = errno;
            ::close(fd);
            throw std::system_error(error, std::generic_category(),
                                    "listen on " + address.to_string());
        }
        // Listen, then register (as connect does). epoll reports a socket that is not
        // listening yet as hung up (EPOLLHUP), a bit that stays set for good; with the driver
        // on another worker, an epoll_wait between the two would record it, and every accept
        // would then find the listener "ready", hear EAGAIN and try again, for ever.
        return TcpListener(AsyncFd(fd, AsyncFd::NonBlocking{}));  // closes fd if it cannot
    }
    static TcpListener bind(std::string_view address, int backlog = 1024) {
        return bind(SocketAddress::parse(address), backlog);
    }

    // snippet-begin: accept
    /// The future of accept(): ready with the next connection.
    class Accept {
    public:
        using Output = TcpStream;
        explicit Accept(AsyncFd& fd) : fd_(&fd) {}
        Poll<TcpStream> poll(Context& cx) {
            Poll<std::size_t> accepted = fd_->poll_io(cx, Interest::readable, [this] {
                return static_cast<ssize_t>(
                    ::accept4(fd_->fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
            });
            if (accepted.is_pending()) return pending;
            return TcpStream(AsyncFd(static_cast<int>(accepted.value()), AsyncFd::NonBlocking{}));
        }

    private:
        AsyncFd* fd_;  // the listener's descriptor; the listener outlives the future
    };
    // snippet-end: accept

    /// Wait for the next connection. Failures throw std::system_error and leave the listener
    /// open. Out of descriptors (EMFILE), the connection stays queued and the listener stays
    /// readable, so accepting again at once fails again: a server must first make room (the
    /// HTTP server of chapter 6 keeps a spare descriptor for that).
    Accept accept() { return Accept(fd_); }

    SocketAddress local_address() const {
        sockaddr_storage storage{};
        socklen_t length = sizeof storage;
        if (::getsockname(fd_.fd(), reinterpret_cast<sockaddr*>(&storage), &length) < 0) {
            throw std::system_error(errno, std::generic_category(), "getsockname");
        }
        return SocketAddress::of(storage, length);
    }

private:
    explicit TcpListener(AsyncFd fd) : fd_(std::move(fd)) {}

    AsyncFd fd_;  // the listening socket
};

}  // namespace rt::net
