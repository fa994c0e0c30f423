// The HTTP/1.1 server of the benchmarks' `http` workload: every request on a keep-alive
// connection gets the same 78-byte "Hello, World!" response. Guarantees: one response per
// request, in order, however the requests are split or packed into reads; bounded memory per
// connection (one 8 KiB buffer), whatever a client sends; bounded time too: a client that is
// silent, or sends its request too slowly, loses its connection (the timeouts, below); no
// exception leaves a connection's task or the accept loop, so no client can end the server.
// New in chapter 9: serve_until stops the server gracefully (the last section below).
//
// One connection (serve_connection), step by step:
//  1. read what the client sent, up to 8 KiB, into the connection's one buffer, unless the
//     connection's deadline (the timeouts, below) passes first: then close the connection;
//  2. scan it for the ends of requests (http/request_scanner.hpp): a request is everything
//     up to "\r\n\r\n", and one may be split across reads at any byte;
//  3. answer every request that ended in this read with ONE write_all: the responses are
//     identical, so they are a prefix of a block of copies made once for the whole process,
//     and answering N pipelined requests costs one system call, not N, with no copying and
//     no allocation. (wrk as the workload runs it sends one request at a time on each
//     connection, so there a batch is one request; a pipelining client, such as wrk with a
//     pipelining script, gets N responses for one read and one write.)
//  4. move the deadline for what comes next, and go back to 1. The client closing its side
//     ends the connection, even in the middle of a request (that request gets no response);
//     so does a reset or any other failure, which is an ordinary end of that connection and
//     disturbs no other.
//
// The timeouts (Options, below). Without them a client that opens a connection and never
// finishes a request's head holds the connection, its buffer and its task for ever, and a
// few thousand such clients hold the server ("slowloris"). So every connection has a
// deadline, and the server closes the connection when it passes (the client then reads the
// end of the stream, or a reset if some of its bytes were still unread):
//  - header_timeout: a request's head must be complete within this much time of the moment
//    the server began waiting for it: for the first request of a connection, the accept; for
//    a later one, the response to the request before if some of it had arrived by then, and
//    otherwise its own first byte. The limit is on the whole head, not on each read: a client
//    that sends one byte every so often, so that every read succeeds, is cut off all the same;
//  - idle_timeout: a connection with no request in progress (nothing of the next head has
//    arrived: just accepted, or after a response) is closed after this much silence. A new
//    connection is under both until its first byte (nginx: client_header_timeout, then
//    keepalive_timeout between requests; Go: ReadHeaderTimeout and IdleTimeout).
// A read that is ready wins over a deadline that passed at the same time, as in rt::timeout.
// How the deadline is kept cheap, with no timer registered per request: ConnectionDeadline.
//
// Limits, and what a client that passes them gets:
//  - a request longer than max_request_bytes (8 KiB): the requests before it are answered,
//    then the server closes the connection "lingering" (close_after_error, below);
//  - a client that sends requests without reading the responses: once the socket's send
//    buffer is full, write_all waits, and the server reads nothing more from that client;
//    its requests wait in the kernel, and the server's memory does not grow;
//  - a client that sends requests as fast as the server answers: every batches_per_turn
//    batches the connection yields, so that it cannot keep the thread from the others
//    (Tokio's cooperative budget does this for every task).
//
// Out of scope, because the workload does not need them: the request line and headers are
// not parsed (any bytes ending in "\r\n\r\n" are a request, and always get 200 OK); requests
// with a body (Content-Length, chunked) are not understood: the body's bytes count as the
// start of the next request, so such a client gets its responses out of step with its
// requests (one response for the request and body together with the next request's
// headers); "Connection: close" and HTTP/1.0 are ignored, every connection is kept alive
// until the client closes it or a timeout passes; and no timeout covers writing: a client
// that stops reading its responses keeps its connection, waiting in write_all, for as long as
// it keeps it open (rt::timeout around the write_all, or a send deadline, would add one).
//
// Graceful shutdown (new in chapter 9). serve_until(listener, stop) serves like serve until
// the future `stop` completes (rt::signal::ctrl_c(), in http-server), then:
//  1. closes the listener: from then on the kernel refuses new connections, and those still
//     waiting in its queue, not accepted yet, are reset. (Keeping it open would let clients
//     connect to a server that will never answer them.)
//  2. sets `finish`, an rt::sync::Event every connection polls beside its read: a connection
//     with no request in progress closes at once (it is idle, and an idle connection is
//     what a client expects a server to close); one whose request's head is arriving goes
//     on until it is complete, answers it, and closes then. A connection in the middle of
//     writing its responses finishes writing them, then closes. It is what Go's
//     Server.Shutdown does: close the listeners, close the idle connections, wait for the
//     others to become idle.
//  3. waits until every connection has closed, for at most options.shutdown_timeout: the
//     server counts its connections (detail::Shutdown), from the accept, before the task is
//     spawned (a connection accepted just before the stop, whose task has not run yet, counts
//     too), to the end of the task, after its socket is closed;
//  4. if some are still open then (a client that sends half a request and stops, or does not
//     read its responses), sets `abandon`, a second Event, which every connection's task
//     polls before its connection: at its next poll, which the Event's wake brings at once,
//     the task destroys the connection where it waits, closing its socket, and ends. Then
//     the server waits for the count to reach zero, which needs no client, only that each
//     task runs once more.
// serve_until returns what happened (ShutdownReport) when the count reaches zero: every
// connection's socket is closed by then, and so are the listener and the spare descriptor, so
// a server that stops leaks no descriptor. What it cannot bound is step 4's wait on a runtime
// whose threads are all blocked elsewhere, which no cooperative scheduler can interrupt.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "http/request_scanner.hpp"
#include "rt/coroutine.hpp"
#include "rt/deadline.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/poll.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/event.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"

namespace http {

/// The response to every request.
inline constexpr std::string_view response =
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 13\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "Hello, World!";
static_assert(response.size() == 78);

/// The connection's read buffer: as large as the longest request, so that a parser added
/// later can keep a whole request in it (the scanner does not need to).
inline constexpr std::size_t read_buffer_bytes = max_request_bytes;

/// The most requests that can end in one read: the first may need only its last byte, every
/// other one at least the 4 bytes of "\r\n\r\n". 2,048 for an 8 KiB buffer.
inline constexpr std::size_t max_requests_per_read = (read_buffer_bytes + 3) / 4;

/// A connection yields to the other tasks after this many batches (step 4 above).
inline constexpr std::uint32_t batches_per_turn = 64;

/// The accept loop yields after this many connections, so that a flood of new connections
/// cannot keep the thread from the connections already open.
inline constexpr std::uint32_t accepts_per_turn = 64;

/// After a request that is too long: at most this many bytes more are read (and discarded)
/// before the connection is closed (close_after_error, below).
inline constexpr std::size_t linger_bytes = 64 * 1024;

/// The responses to `count` requests, back to back: a prefix of a block of
/// max_requests_per_read copies of `response` (156 KiB), made once for the process and
/// shared by every connection. `count` must not be more than max_requests_per_read.
inline std::span<const char> responses(std::size_t count) {
    static const std::string block = [] {
        std::string copies;
        copies.reserve(response.size() * max_requests_per_read);
        for (std::size_t i = 0; i < max_requests_per_read; ++i) copies += response;
        return copies;
    }();
    return std::span<const char>(block).first(count * response.size());
}

/// How the server treats slow and silent clients (the timeouts, in the opening comment).
/// Each is from zero (no waiting at all: only bytes already there are read) to a century,
/// which is as good as none.
struct Options {
    /// The most time a request's head may take to arrive, counted from when the server began
    /// waiting for it. 10 s: a real client sends a head in one or two segments, a round trip
    /// or two, so 10 s forgives hundreds of round trips on the worst mobile link, and yet
    /// bounds the time a slowloris connection holds its buffer. (nginx's client_header_timeout
    /// is 60 s, Node's headersTimeout 60 s, Apache's mod_reqtimeout 20 s to begin with.)
    std::chrono::milliseconds header_timeout = std::chrono::seconds(10);

    /// The most silence allowed on a connection with no request in progress. 60 s: long
    /// enough that a browser or a connection pool reusing its connection rarely finds it
    /// closed, short enough that the connections of clients that went away without closing
    /// do not pile up. (nginx's keepalive_timeout is 75 s, Apache's KeepAliveTimeout 5 s.)
    std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);

    /// After serve_until's stop: the most time the connections get to finish the requests in
    /// progress before they are cancelled (steps 3 and 4 of the shutdown). 10 s: a request
    /// this server answers takes microseconds, so a connection still busy after 10 s belongs
    /// to a client that stopped sending or reading. (Kubernetes waits 30 s between SIGTERM and
    /// SIGKILL by default; Go's Server.Shutdown takes whatever deadline its caller gives.)
    std::chrono::milliseconds shutdown_timeout = std::chrono::seconds(10);
};

// snippet-begin: connection-deadline
/// A connection's deadline: the moment it is closed unless its client makes progress, kept as
/// the two timeouts define it (the opening comment). Its timer is one Sleep per connection,
/// registered at the first read that waits and re-armed lazily: moving the deadline later,
/// which is what every answered request does, only changes a field; when the Sleep fires at a
/// deadline that has moved since, it is registered again for the current one (Netty's
/// IdleStateHandler does the same). A connection served request after request thus costs one
/// timer registration per idle_timeout, not one per request; only moving the deadline
/// earlier (from silence to a partial head) re-registers at once.
class ConnectionDeadline {
public:
    /// The deadline of a connection accepted now: its first head is due within
    /// header_timeout, and nothing may take longer than idle_timeout to come.
    explicit ConnectionDeadline(Options options) : ConnectionDeadline(options, rt::Clock::now()) {}
    ConnectionDeadline(const ConnectionDeadline&) = delete;
    ConnectionDeadline& operator=(const ConnectionDeadline&) = delete;

    /// Move the deadline after a read in which `completed` requests ended, and were answered,
    /// and `pending_bytes` of the next one arrived.
    void advance(std::size_t completed, std::size_t pending_bytes) {
        if (completed > 0) {
            const rt::Clock::time_point answered = rt::Clock::now();
            if (pending_bytes > 0) {  // the next head had begun: it is timed from the response
                head_due_ = rt::saturating_add(answered, options_.header_timeout);
                move_to(*head_due_);
            } else {  // silence; the next head will be timed from its first byte
                head_due_.reset();
                move_to(rt::saturating_add(answered, options_.idle_timeout));
            }
        } else {  // more of the head in progress, or the first bytes of a head after silence
            if (!head_due_)
                head_due_ = rt::saturating_add(rt::Clock::now(), options_.header_timeout);
            move_to(*head_due_);
        }
    }

    /// Ready once the deadline has passed; pending otherwise, with the timer holding the
    /// task's waker.
    rt::Poll<void> poll_passed(rt::Context& cx) {
        while (timer_.poll(cx).is_ready()) {
            if (timer_.deadline() >= due_) return rt::ready;  // the timer is never early
            timer_.reset(due_);  // it fired at an old deadline: wait for the current one
        }
        return rt::pending;
    }

private:
    ConnectionDeadline(Options options, rt::Clock::time_point accepted)
        : options_(options),
          head_due_(rt::saturating_add(accepted, options.header_timeout)),
          due_(std::min(*head_due_, rt::saturating_add(accepted, options.idle_timeout))),
          timer_(due_) {}

    /// Invariant: the timer's deadline is never later than due_, so it cannot sleep through
    /// it. A later deadline leaves the timer alone; an earlier one re-arms it now.
    void move_to(rt::Clock::time_point due) {
        if (due < timer_.deadline()) timer_.reset(due);
        due_ = due;
    }

    Options options_;  // the timeouts
    // When the head in progress must be complete; empty in the silence after a response, when
    // no head has begun.
    std::optional<rt::Clock::time_point> head_due_;
    rt::Clock::time_point due_;  // the deadline: head_due_ or the end of the silence allowed
    rt::Sleep timer_;  // set for due_ or earlier; in the connection's frame, so never moved
};

/// `future`'s output, or nothing if the connection's deadline passes first: rt::timeout's poll
/// (rt/timeout.hpp), with the connection's timer instead of a timer of its own. The future is
/// polled first: a read that is ready wins, and never looks at the timer. New in chapter 9:
/// nothing either once `finish`, if given, is set (step 2 of the shutdown).
template <rt::Future F>
class BeforeDeadline {
public:
    using Output = std::optional<typename F::Output>;
    BeforeDeadline(F future, ConnectionDeadline& deadline, rt::sync::Event::Wait* finish = nullptr)
        : future_(std::move(future)), deadline_(&deadline), finish_(finish) {}
    rt::Poll<Output> poll(rt::Context& cx) {
        rt::Poll<typename F::Output> result = future_.poll(cx);
        if (result.is_ready()) return Output(std::move(result).value());
        if (deadline_->poll_passed(cx).is_ready()) return Output();  // the read is given up
        if (finish_ != nullptr && finish_->poll(cx).is_ready()) return Output();  // likewise
        return rt::pending;
    }

private:
    F future_;                       // a read
    ConnectionDeadline* deadline_;   // the connection's; outlives this future
    rt::sync::Event::Wait* finish_;  // the connection's, or none; outlives this future
};
// snippet-end: connection-deadline

// snippet-begin: serve-connection
/// Serve one connection until its client closes it or its deadline passes (the steps above),
/// or, if `finish` is given, until it is set while no request is in progress (step 2 of the
/// shutdown). Never throws: a reset, a broken pipe or any other failure ends the connection,
/// as the client closing it would.
inline rt::Task<void> serve_connection(rt::net::TcpStream stream, Options options = {},
                                       rt::sync::Event* finish = nullptr) {
    try {
        stream.set_nodelay(true);  // a response goes out at once, not after the next one
        std::array<char, read_buffer_bytes> buffer;  // in the coroutine's frame: no allocation
        RequestScanner scanner;
        ConnectionDeadline deadline(options);            // from the accept, which was just now
        std::optional<rt::sync::Event::Wait> finishing;  // kept for the connection's life
        if (finish != nullptr) finishing.emplace(finish->wait());
        for (std::uint32_t batch = 1;; ++batch) {
            // Only a connection between requests gives in to `finish`: a head that has begun
            // to arrive is read to its end, and answered (step 2 of the shutdown).
            rt::sync::Event::Wait* const idle_finish =
                finishing && scanner.pending_bytes() == 0 ? &*finishing : nullptr;
            const std::optional<std::size_t> got =
                co_await BeforeDeadline(stream.read(buffer), deadline, idle_finish);  // step 1
            if (!got) co_return;       // too slow, too silent, or shut down: closing is the answer
            if (*got == 0) co_return;  // the client closed its side: the end
            const RequestScanner::Scan scan = scanner.scan(std::string_view(buffer.data(), *got));
            // Step 3. One write_all: `complete` is at most max_requests_per_read, since `got`
            // is at most the buffer's size; the loop only makes that an argument, not a bet.
            for (std::size_t left = scan.complete; left > 0;) {
                const std::size_t now = std::min(left, max_requests_per_read);
                co_await stream.write_all(responses(now));
                left -= now;
            }
            deadline.advance(scan.complete, scanner.pending_bytes());  // step 4
            if (scan.too_long) break;
            // Step 2 of the shutdown, for a connection that was busy when it began: all it
            // read is answered and no head has begun, so it closes now, the lingering way,
            // since its client may have sent more that nobody will read.
            if (finishing && finish->is_set() && scanner.pending_bytes() == 0) break;
            if (batch % batches_per_turn == 0) co_await rt::yield_now();
        }
        // snippet-begin: close-after-error
        // close_after_error: a request was too long (or, new in chapter 9, the shutdown closes a
        // connection that was busy). Closing the socket at once, with the
        // rest of the request unread, would make the kernel send a reset instead of an orderly
        // end of stream: the client would read ECONNRESET instead of the end, and some
        // kernels drop the responses a client has not read yet when a reset arrives. So: end
        // our side first (the client reads its responses, then the end of the stream), read
        // and discard what is still coming, up to linger_bytes, the client's own end or the
        // deadline of the head that was too long, and only then close (nginx's "lingering
        // close", which nginx bounds in time only).
        stream.shutdown_write();
        for (std::size_t discarded = 0; discarded < linger_bytes;) {
            const std::optional<std::size_t> got =
                co_await BeforeDeadline(stream.read(buffer), deadline);
            if (!got || *got == 0) break;
            discarded += *got;
        }
        // snippet-end: close-after-error
    } catch (const std::exception&) {
        // ECONNRESET, EPIPE, ...: the client is gone, which ends this connection and nothing
        // else. Not logged: a client could otherwise fill the server's log at will.
    }
}
// snippet-end: serve-connection

namespace detail {

/// One descriptor held open for the day the process runs out of them. At the limit, accept
/// fails with EMFILE and leaves the connection in the listener's queue; the listener stays
/// readable, and every retry would fail again at once: a server that just retried would
/// spin at 100% CPU for as long as it is at its limit. Closing the spare frees the one slot
/// that accept needs to take the connection off the queue and close it; then the spare is
/// opened again. The client is refused (end of stream) instead of waiting in a queue that
/// nothing drains, and the loop waits for the next connection as usual (libuv does the same:
/// uv__emfile_trick).
class SpareDescriptor {
public:
    SpareDescriptor() noexcept : fd_(open_one()) {}
    ~SpareDescriptor() { release(); }
    SpareDescriptor(const SpareDescriptor&) = delete;
    SpareDescriptor& operator=(const SpareDescriptor&) = delete;

    /// Close the spare, freeing its slot. False if there was none to close.
    bool release() noexcept {
        if (fd_ < 0) return false;
        ::close(fd_);
        fd_ = -1;
        return true;
    }

    /// Open the spare again, if it is not open. It may fail while the process is still at its
    /// limit; the next release() then says there is none.
    void reserve() noexcept {
        if (fd_ < 0) fd_ = open_one();
    }

private:
    static int open_one() noexcept { return ::open("/dev/null", O_RDONLY | O_CLOEXEC); }

    int fd_;  // open on /dev/null, or -1
};

/// A future polled once: ready at its first poll, with the output of `F` if `F` was ready
/// then, or with nothing. If `F` was pending it has kept the task's waker, and may wake the
/// task later for nothing: a spurious wake, which every future must expect.
template <rt::Future F>
class PollOnce {
public:
    using Output = std::optional<typename F::Output>;
    explicit PollOnce(F future) : future_(std::move(future)) {}
    rt::Poll<Output> poll(rt::Context& cx) {
        rt::Poll<typename F::Output> result = future_.poll(cx);
        if (result.is_pending()) return Output();
        return Output(std::move(result).value());
    }

private:
    F future_;  // polled once
};

/// Reports each kind of accept failure once, on stderr: a server out of descriptors fails
/// thousands of times a second, and one line says as much as a thousand. Allocates nothing
/// and throws nothing, since it runs where memory may have run out.
class AcceptFailures {
public:
    /// Report a failure with this errno value (0 when it is not a system error) the first
    /// time it happens.
    void report(int error, const char* what) noexcept {
        const std::size_t kind = error > 0 && error < kinds ? static_cast<std::size_t>(error) : 0;
        if (reported_[kind]) return;
        reported_[kind] = true;
        std::fprintf(stderr,
                     "http: accept failed: %s; the server goes on (further failures of this kind "
                     "are not reported)\n",
                     what);
    }

private:
    static constexpr int kinds = 256;     // errno values are below this; the rest count as 0
    std::array<bool, kinds> reported_{};  // by errno value: reported already
};

}  // namespace detail

namespace detail {

// snippet-begin: shutdown-count
/// What serve_until and its connections share: the two Events of the shutdown (steps 2 and 4)
/// and the count of connections open (step 3). Each connection's Ticket holds it, so it lives
/// as long as the last of them, even one that ends after serve_until has returned.
class Shutdown {
public:
    rt::sync::Event finish;   // step 2: finish the request in progress, then close
    rt::sync::Event abandon;  // step 4: stop now

    /// A connection counted as open, from its accept to the end of its task.
    class Ticket {
    public:
        explicit Ticket(std::shared_ptr<Shutdown> shutdown) : shutdown_(std::move(shutdown)) {
            std::lock_guard lock(shutdown_->mutex_);
            ++shutdown_->open_;
        }
        Ticket(Ticket&&) noexcept = default;
        Ticket& operator=(Ticket&&) = delete;
        ~Ticket() {
            if (shutdown_ != nullptr) shutdown_->leave();
        }
        Shutdown& shutdown() const noexcept { return *shutdown_; }

    private:
        std::shared_ptr<Shutdown> shutdown_;  // empty once moved from
    };

    /// The future of all_closed(): ready once no connection is open. One at a time, by the
    /// server.
    class AllClosed {
    public:
        using Output = void;
        explicit AllClosed(Shutdown& shutdown) noexcept : shutdown_(&shutdown) {}
        rt::Poll<void> poll(rt::Context& cx) {
            std::optional<rt::Waker> replaced;  // dropped after the unlock
            std::lock_guard lock(shutdown_->mutex_);
            if (shutdown_->open_ == 0) return rt::ready;
            if (!shutdown_->closer_ || !shutdown_->closer_->will_wake(cx.waker())) {
                replaced = std::exchange(shutdown_->closer_, cx.waker());
            }
            return rt::pending;
        }

    private:
        Shutdown* shutdown_;
    };
    AllClosed all_closed() noexcept { return AllClosed(*this); }

    /// How many connections are open.
    std::size_t open() {
        std::lock_guard lock(mutex_);
        return open_;
    }

private:
    /// A connection's task ends: count it out, and wake the server at the last one. Under the
    /// mutex, so that the server either sees the new count or has left its waker to be woken.
    void leave() {
        std::optional<rt::Waker> closer;
        {
            std::lock_guard lock(mutex_);
            if (--open_ == 0) closer = std::exchange(closer_, std::nullopt);
        }
        if (closer) std::move(*closer).wake();
    }

    std::mutex mutex_;                 // guards the two below
    std::size_t open_ = 0;             // connections counted in and not yet out
    std::optional<rt::Waker> closer_;  // the server, waiting for open_ to reach zero
};
// snippet-end: shutdown-count

/// A connection's future under serve_until: ready once `connection` is, or at once when
/// `abandon` is set, and then the connection is destroyed where it waits (step 4).
/// `abandon` is polled first, so a connection abandoned never runs again.
template <rt::Future F>
class UnlessAbandoned {
public:
    using Output = void;
    UnlessAbandoned(F connection, rt::sync::Event& abandon)
        : connection_(std::move(connection)), abandon_(abandon.wait()) {}
    rt::Poll<void> poll(rt::Context& cx) {
        if (abandon_.poll(cx).is_ready()) {
            connection_.reset();  // its frame goes, with its socket
            return rt::ready;
        }
        return connection_->poll(cx);
    }

private:
    std::optional<F> connection_;
    rt::sync::Event::Wait abandon_;
};

/// The next connection, or nothing once `stop` completes: the accept loop's wait. `stop` is
/// polled first, so that a server told to stop accepts nothing more.
template <rt::Future Stop>
class AcceptUnless {
public:
    using Output = std::optional<rt::net::TcpStream>;
    AcceptUnless(rt::net::TcpListener::Accept accept, Stop& stop)
        : accept_(std::move(accept)), stop_(&stop) {}
    rt::Poll<Output> poll(rt::Context& cx) {
        if (stop_->poll(cx).is_ready()) return Output();
        rt::Poll<rt::net::TcpStream> accepted = accept_.poll(cx);  // throws what accept throws
        if (accepted.is_pending()) return rt::pending;
        return Output(std::move(accepted).value());
    }

private:
    rt::net::TcpListener::Accept accept_;
    Stop* stop_;  // serve_until's; outlives this future
};

/// A future that never completes: serve's `stop`.
struct Never {
    using Output = void;
    rt::Poll<void> poll(rt::Context&) { return rt::pending; }
};

/// One connection's task under serve_until: serve it, unless the shutdown abandons it first.
/// The ticket is counted out at the end, after the connection's frame, with its socket, is
/// gone. Each future is a named local (see rt/fs/fs.hpp on GCC 12 and co_await).
inline rt::Task<void> serve_counted(rt::net::TcpStream stream, Options options,
                                    Shutdown::Ticket ticket) {
    const Shutdown::Ticket counted = std::move(ticket);  // out when this frame's locals go
    Shutdown& shutdown = counted.shutdown();
    rt::Task<void> connection = serve_connection(std::move(stream), options, &shutdown.finish);
    UnlessAbandoned served(std::move(connection), shutdown.abandon);
    co_await served;
}

}  // namespace detail

/// What a graceful shutdown did: serve_until's result.
struct ShutdownReport {
    std::size_t open = 0;       // connections open when the stop came
    std::size_t abandoned = 0;  // of those, the ones still open at shutdown_timeout (step 4)
};

// snippet-begin: serve
/// Accept connections on `listener` until `stop` completes, serving each in a task of its own
/// under `options`' timeouts; then shut down gracefully (the steps in the opening comment),
/// and return what happened once every connection is closed. Never throws: a failed accept
/// (out of descriptors, out of memory, a connection aborted in the queue) is reported once per
/// kind and the loop goes on. Out of descriptors, it refuses the waiting connections
/// (SpareDescriptor); after any other failure it lets the other tasks run and tries again.
template <rt::Future Stop>
rt::Task<ShutdownReport> serve_until(rt::net::TcpListener listener, Stop stop,
                                     Options options = {}) {
    const auto shutdown = std::make_shared<detail::Shutdown>();
    {
        detail::SpareDescriptor spare;
        detail::AcceptFailures failures;
        for (std::uint32_t accepted = 0;;) {
            int error = -1;  // -1: accepted; else errno of the failure, 0 if not a system error
            try {
                detail::AcceptUnless next(listener.accept(), stop);
                std::optional<rt::net::TcpStream> stream = co_await next;
                if (!stream) break;  // stopped
                // Counted before the task exists: step 3 waits for it even if it never runs.
                detail::Shutdown::Ticket ticket(shutdown);
                rt::spawn(detail::serve_counted(std::move(*stream), options, std::move(ticket)));
            } catch (const std::system_error& failure) {
                error = failure.code().value();
                failures.report(error, failure.what());
            } catch (const std::exception& failure) {  // std::bad_alloc from spawn
                error = 0;
                failures.report(error, failure.what());
            }
            if (error < 0) {
                if (++accepted % accepts_per_turn == 0) co_await rt::yield_now();
            } else if ((error == EMFILE || error == ENFILE) && spare.release()) {
                try {
                    // Take the waiting connection and close it at once: refused. Polled once,
                    // never awaited: at the limit accept fails even with nothing waiting (the
                    // kernel finds a free descriptor before it looks at the queue), and
                    // waiting here without the spare would refuse the next client, however
                    // many descriptors were free by then.
                    (void)co_await detail::PollOnce(listener.accept());
                } catch (const std::exception&) {
                    // Still no slot (someone else took it): the next round tries again.
                }
                spare.reserve();
            } else {
                co_await rt::yield_now();  // let the connections run before trying again
            }
        }
    }
    // snippet-begin: graceful-shutdown
    { const rt::net::TcpListener closed = std::move(listener); }  // step 1: refuse new ones
    ShutdownReport report{.open = shutdown->open()};
    shutdown->finish.set();  // step 2: idle connections close, busy ones finish, then close
    auto all_closed = rt::timeout(options.shutdown_timeout, shutdown->all_closed());
    if (!co_await all_closed) {  // step 3 ran out of time
        report.abandoned = shutdown->open();
        shutdown->abandon.set();  // step 4: the rest stop where they wait
        auto all_stopped = shutdown->all_closed();
        co_await all_stopped;
    }
    co_return report;
    // snippet-end: graceful-shutdown
}
// snippet-end: serve

/// Accept connections on `listener` for ever (serve_until with a stop that never comes), so
/// it never returns.
inline rt::Task<void> serve(rt::net::TcpListener listener, Options options = {}) {
    rt::Task<ShutdownReport> served = serve_until(std::move(listener), detail::Never{}, options);
    co_await served;
}

}  // namespace http
