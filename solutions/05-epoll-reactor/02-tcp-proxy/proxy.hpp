// Exercise 05-02 (solution): a TCP proxy. ex::copy moves one direction's bytes until its source
// ends, then passes the end on; ex::proxy connects to the upstream server and runs both
// directions at once until both have ended, or until either fails, and closes both connections
// on return. The proxy never throws: what happened is its report.
//
// The end of a stream, passed on (half-close). A TCP connection is two independent directions.
// When the client says "I am done sending" (shutdown of its write side: a read on our side
// answers 0), the upstream server must learn it the same way, or it would wait for ever for more
// of the request; so copy ends with to.shutdown_write(), which sends the upstream our FIN, and
// leaves the other direction alone: the upstream's reply still flows back, to the end. The
// connections are closed only once both directions have ended.
//
// A failure ends everything. A reset or any other error in one direction throws out of its
// copy; try_join then destroys the other copy where it waits, and proxy returns, which closes
// both sockets: a peer still connected sees its stream end.
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
    std::vector<char> buffer(64 * 1024);
    for (;;) {
        const std::size_t got = co_await from.read(buffer);
        if (got == 0) break;  // `from` has ended its side
        co_await to.write_all(std::span<const char>(buffer.data(), got));
        copied += got;
    }
    to.shutdown_write();  // pass the end on; the other direction goes on
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
    // A local, not the parameter: locals are destroyed when the coroutine returns, parameters
    // only with its frame. Returning must close the client's connection.
    rt::net::TcpStream client = std::move(client_stream);
    ProxyReport report;
    try {
        rt::net::TcpStream server = co_await rt::net::TcpStream::connect(upstream);
        report.connected = true;
        client.set_nodelay(true);  // a proxy forwards what it has at once
        server.set_nodelay(true);
        co_await try_join(copy(client, server, report.client_to_upstream),
                          copy(server, client, report.upstream_to_client));
    } catch (const std::exception& error) {
        report.error = error.what();
    }
    co_return report;  // both connections are closed by now
}

}  // namespace ex
