// TcpStream: a connected TCP socket on the I/O driver. read, write, read_exact and write_all
// are futures, written by hand over AsyncFd::poll_io (no allocation per call); connect is a
// future of a new stream.
//
// Outcomes, never crashes: read answers 0 when the peer closed its side (an ordinary end);
// read_exact throws UnexpectedEof when the stream ends before the buffer is full; a reset, a
// refused connection or any failed system call throws std::system_error with its errno;
// writing to a peer that is gone is EPIPE, not the SIGPIPE that would kill the process.
//
// One task may read while another writes (each direction has its own waker); two tasks
// reading the same stream at once is a bug, as two threads calling recv on it would be.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "rt/async_fd.hpp"
#include "rt/future.hpp"
#include "rt/net/socket_address.hpp"

namespace rt::net {

/// read_exact found the end of the stream before its buffer was full.
class UnexpectedEof : public std::runtime_error {
public:
    explicit UnexpectedEof(std::size_t missing)
        : std::runtime_error("the stream ended " + std::to_string(missing) +
                             " bytes before the end of the message") {}
};

class TcpStream;

/// The future of TcpStream::connect.
class ConnectFuture {
public:
    using Output = TcpStream;
    explicit ConnectFuture(SocketAddress address) : address_(address) {}
    Poll<TcpStream> poll(Context& cx);

private:
    SocketAddress address_;      // where to connect
    std::optional<AsyncFd> fd_;  // the socket, from the first poll on
};

class TcpStream {
public:
    /// Connect to `address`; a future of the connected stream. Throws std::system_error
    /// (ECONNREFUSED, ...) from the poll that learns the connection failed.
    static ConnectFuture connect(SocketAddress address) { return ConnectFuture(address); }
    static ConnectFuture connect(std::string_view address) {
        return ConnectFuture(SocketAddress::parse(address));
    }

    /// A stream over an already connected socket (accept, connect).
    explicit TcpStream(AsyncFd fd) : fd_(std::move(fd)) {}

    // snippet-begin: read-future
    /// The future of read(): ready with the bytes read, at least 1, or 0 at end of stream.
    class Read {
    public:
        using Output = std::size_t;
        Read(AsyncFd& fd, std::span<char> buffer) : fd_(&fd), buffer_(buffer) {}
        Poll<std::size_t> poll(Context& cx) {
            return fd_->poll_io(cx, Interest::readable, buffer_.size(), [this] {
                return ::recv(fd_->fd(), buffer_.data(), buffer_.size(), 0);
            });
        }

    private:
        AsyncFd* fd_;             // the stream's descriptor; the stream outlives the future
        std::span<char> buffer_;  // where the bytes go
    };
    // snippet-end: read-future

    /// The future of write(): ready with the bytes written, at least 1 unless `data` is empty.
    class Write {
    public:
        using Output = std::size_t;
        Write(AsyncFd& fd, std::span<const char> data) : fd_(&fd), data_(data) {}
        Poll<std::size_t> poll(Context& cx) {
            // Not a short-count call: a short send waits for EAGAIN, as in chapter 5. See
            // AsyncFd::poll_io for why only a short recv counts as drained.
            return fd_->poll_io(cx, Interest::writable, [this] {
                return ::send(fd_->fd(), data_.data(), data_.size(), MSG_NOSIGNAL);
            });
        }

    private:
        AsyncFd* fd_;                 // the stream's descriptor
        std::span<const char> data_;  // what to write
    };

    /// The future of read_exact(): ready once the buffer is full.
    class ReadExact {
    public:
        using Output = void;
        ReadExact(AsyncFd& fd, std::span<char> buffer) : fd_(&fd), buffer_(buffer) {}
        Poll<void> poll(Context& cx) {
            while (filled_ < buffer_.size()) {
                Poll<std::size_t> got = Read(*fd_, buffer_.subspan(filled_)).poll(cx);
                if (got.is_pending()) return pending;
                if (got.value() == 0) throw UnexpectedEof(buffer_.size() - filled_);
                filled_ += got.value();
            }
            return ready;
        }

    private:
        AsyncFd* fd_;             // the stream's descriptor
        std::span<char> buffer_;  // to fill entirely
        std::size_t filled_ = 0;  // bytes read so far
    };

    /// The future of write_all(): ready once every byte was written.
    class WriteAll {
    public:
        using Output = void;
        WriteAll(AsyncFd& fd, std::span<const char> data) : fd_(&fd), data_(data) {}
        Poll<void> poll(Context& cx) {
            while (written_ < data_.size()) {
                Poll<std::size_t> put = Write(*fd_, data_.subspan(written_)).poll(cx);
                if (put.is_pending()) return pending;
                written_ += put.value();
            }
            return ready;
        }

    private:
        AsyncFd* fd_;                 // the stream's descriptor
        std::span<const char> data_;  // to write entirely
        std::size_t written_ = 0;     // bytes written so far
    };

    /// Read what is there, up to buffer.size() bytes; 0 means the peer closed its side.
    Read read(std::span<char> buffer) { return Read(fd_, buffer); }
    /// Write what fits in the socket's buffer, at least one byte.
    Write write(std::span<const char> data) { return Write(fd_, data); }
    /// Read exactly buffer.size() bytes, or throw UnexpectedEof.
    ReadExact read_exact(std::span<char> buffer) { return ReadExact(fd_, buffer); }
    /// Write every byte of `data`.
    WriteAll write_all(std::span<const char> data) { return WriteAll(fd_, data); }

    /// Send FIN: the peer reads end of stream; this side can still read.
    void shutdown_write() {
        if (::shutdown(fd_.fd(), SHUT_WR) < 0) {
            throw std::system_error(errno, std::generic_category(), "shutdown");
        }
    }

    /// Send small writes at once instead of waiting to coalesce them (Nagle's algorithm off).
    void set_nodelay(bool on) {
        const int value = on ? 1 : 0;
        if (::setsockopt(fd_.fd(), IPPROTO_TCP, TCP_NODELAY, &value, sizeof value) < 0) {
            throw std::system_error(errno, std::generic_category(), "setsockopt(TCP_NODELAY)");
        }
    }

    SocketAddress local_address() const { return address_of(::getsockname, "getsockname"); }
    SocketAddress peer_address() const { return address_of(::getpeername, "getpeername"); }

    /// The descriptor, for socket options this class does not wrap.
    int native_handle() const noexcept { return fd_.fd(); }

private:
    template <class Query>
    SocketAddress address_of(Query query, const char* what) const {
        sockaddr_storage storage{};
        socklen_t length = sizeof storage;
        if (query(fd_.fd(), reinterpret_cast<sockaddr*>(&storage), &length) < 0) {
            throw std::system_error(errno, std::generic_category(), what);
        }
        return SocketAddress::of(storage, length);
    }

    AsyncFd fd_;  // the connected socket
};

// snippet-begin: connect
inline Poll<TcpStream> ConnectFuture::poll(Context& cx) {
    if (!fd_) {  // first poll: start a non-blocking connect
        const int fd = ::socket(address_.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
        // New in chapter 8: connect, then register. epoll reports a socket that is not
        // connected yet as hung up (EPOLLHUP), and with the driver on another worker, an
        // epoll_wait between the two would record the end of the stream before it began.
        const int connected = ::connect(fd, address_.get(), address_.length());
        if (connected < 0 && errno != EINPROGRESS) {
            const int error = errno;
            ::close(fd);
            throw std::system_error(error, std::generic_category(),
                                    "connect to " + address_.to_string());
        }
        fd_.emplace(fd, AsyncFd::NonBlocking{});                // closes fd if it cannot register
        if (connected == 0) return TcpStream(std::move(*fd_));  // loopback may connect at once
    }
    // The connection is established, or has failed, when the socket becomes writable.
    Poll<ReadyEvent> ready = fd_->poll_ready(cx, Interest::writable);
    if (ready.is_pending()) return pending;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd_->fd(), SOL_SOCKET, SO_ERROR, &error, &length) < 0) error = errno;
    if (error != 0) {
        throw std::system_error(error, std::generic_category(),
                                "connect to " + address_.to_string());
    }
    return TcpStream(std::move(*fd_));
}
// snippet-end: connect

}  // namespace rt::net
