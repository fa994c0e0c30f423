// Exercise 05-02 (starter): a TCP proxy. Compiles; copy and proxy, marked TODO(exercise), are
// yours. The contract: copy moves one direction's bytes until its source ends, then passes the
// end on (shutdown_write); proxy connects to the upstream server and runs both directions at
// once until both have ended, or until either fails, closes both connections on return, and
// never throws: what happened is its report.
//
// A TCP connection is two independent directions. A client that says "I am done sending" (a
// read on our side answers 0) may still be waiting for the reply, and the upstream server may
// be waiting for exactly that end before it replies: the end must be passed on, one direction
// at a time, while the other direction goes on.
#pragma once

#include <cstddef>
#include <exception>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <try_join.hpp>

#include "rt/coroutine.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_stream.hpp"

namespace ex {

/// Copy everything `from` sends to `to`, until `from` ends; then shut down `to`'s write side,
/// so that its peer reads the end too. `copied` counts the bytes written to `to`, as they are
/// (it is right even when the copy fails half way). Throws what a read, a write or the shutdown
/// throws (std::system_error).
inline rt::Task<void> copy(rt::net::TcpStream& from, rt::net::TcpStream& to, std::size_t& copied) {
    // TODO(exercise): with a buffer (64 KiB, say) that lives in this coroutine: read from
    // `from`; 0 means it has ended: stop. Otherwise write what was read to `to` with
    // write_all (a plain write may take part of it), and add it to `copied`. After the loop,
    // to.shutdown_write(). Let exceptions out: proxy deals with them.
    (void)from;
    (void)to;
    (void)copied;
    co_return;
}

/// What one proxied connection did.
struct ProxyReport {
    bool connected = false;              // the connection to the upstream server was made
    std::size_t client_to_upstream = 0;  // bytes copied from the client to the upstream
    std::size_t upstream_to_client = 0;  // bytes copied from the upstream to the client
    std::string error;                   // empty if both directions ended cleanly; else why not
};

/// Connect to `upstream` and copy bytes both ways between it and `client` at the same time,
/// until both directions have ended (each end passed on to the other side as it comes), or until
/// either fails (a refused connection, a reset): then both are closed. Never throws.
inline rt::Task<ProxyReport> proxy(rt::net::TcpStream client_stream,
                                   rt::net::SocketAddress upstream) {
    // TODO(exercise): move client_stream into a local first: a coroutine's locals are destroyed
    // when it returns, its parameters only later, with its frame, and returning must close the
    // client's connection. Then, inside a try block: connect to `upstream` (set `connected`),
    // and co_await try_join of the two copies, client to upstream and upstream to client, each
    // counting into its field of the report. Catch std::exception into `error`. Return the
    // report: the streams, locals, are closed by then.
    (void)client_stream;
    (void)upstream;
    co_return ProxyReport{};
}

}  // namespace ex
