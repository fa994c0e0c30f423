// http-server: the HTTP/1.1 server of the benchmarks' `http` workload (http/server.hpp) on
// this chapter's runtime, single-threaded or with --workers threads, for wrk to measure. New in
// chapter 9: it serves until Ctrl-C (SIGINT), then shuts down gracefully (http::serve_until):
// it refuses new connections, lets those open finish their requests for up to
// --shutdown-timeout-ms, abandons the rest, says so on stderr and exits with 0. (SIGTERM still
// ends it at once, by the default action.) stdout stays empty. Its options include the
// server's timeouts, with http::Options' defaults.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>

#include "http/server.hpp"
#include "rt/coroutine.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/runtime.hpp"
#include "rt/signal/ctrl_c.hpp"
#include "support/cli.hpp"
#include "support/descriptors.hpp"

namespace {

/// "host:port" as SocketAddress::parse reads it: an IPv6 host goes in brackets.
std::string address_text(const std::string& host, int port) {
    const bool bare_ipv6 = host.find(':') != std::string::npos && host[0] != '[';
    return (bare_ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

/// Bind, say where, serve until Ctrl-C, and say how the shutdown went.
rt::Task<void> run(rt::net::SocketAddress address, http::Options options) {
    rt::net::TcpListener listener = rt::net::TcpListener::bind(address);
    rt::signal::CtrlC ctrl_c = rt::signal::ctrl_c();  // from now on Ctrl-C is ours to handle
    std::fprintf(stderr, "serving HTTP/1.1 on %s; Ctrl-C stops it\n",
                 listener.local_address().to_string().c_str());
    rt::Task<http::ShutdownReport> served =
        http::serve_until(std::move(listener), std::move(ctrl_c), options);
    const http::ShutdownReport report = co_await served;
    std::fprintf(stderr,
                 "http-server: stopped; connections open at Ctrl-C: %zu, finished: %zu, "
                 "abandoned at the %lld ms deadline: %zu\n",
                 report.open, report.open - report.abandoned,
                 static_cast<long long>(options.shutdown_timeout.count()), report.abandoned);
}

/// The longest timeout the options accept, in milliseconds: a day, far more than any client
/// needs, and far from where a deadline could overflow.
constexpr std::int64_t longest_timeout_ms = 24 * 60 * 60 * 1000;

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = 8080;
    const http::Options defaults;
    std::int64_t header_timeout_ms = defaults.header_timeout.count();
    std::int64_t idle_timeout_ms = defaults.idle_timeout.count();
    std::int64_t shutdown_timeout_ms = defaults.shutdown_timeout.count();
    int workers = 0;

    CLI::App app{
        "The HTTP/1.1 server of the benchmarks' `http` workload, on chapter 9's runtime: "
        "every request on a keep-alive connection gets the same 78-byte response, "
        "\"Hello, World!\". Serves until Ctrl-C, then shuts down gracefully. Measure it with "
        "`wrk -t1 -c64 -d4s http://127.0.0.1:PORT/`.",
        "http-server"};
    app.add_option("--address", host, "IPv4 or IPv6 address to listen on")
        ->check([](const std::string& text) -> std::string {
            try {
                rt::net::SocketAddress::parse(address_text(text, 0));
                return {};
            } catch (const std::invalid_argument&) {
                return "not an IPv4 or IPv6 address: " + text;
            }
        })
        ->capture_default_str();
    app.add_option("--port", port, "port to listen on; 0 picks a free one (printed on stderr)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("--header-timeout-ms", header_timeout_ms,
                   "a request's head must arrive within this many ms of when the server began "
                   "waiting for it (the accept, the previous response, or its first byte after "
                   "a silence), or the connection is closed")
        ->check(CLI::Range(std::int64_t{1}, longest_timeout_ms))
        ->capture_default_str();
    app.add_option("--idle-timeout-ms", idle_timeout_ms,
                   "a connection with no request in progress is closed after this many ms of "
                   "silence")
        ->check(CLI::Range(std::int64_t{1}, longest_timeout_ms))
        ->capture_default_str();
    app.add_option("--shutdown-timeout-ms", shutdown_timeout_ms,
                   "after Ctrl-C, connections get this many ms to finish their requests; then "
                   "those still open are abandoned")
        ->check(CLI::Range(std::int64_t{0}, longest_timeout_ms))
        ->capture_default_str();
    app.add_option("-w,--workers", workers,
                   "worker threads; 0 runs the single-threaded runtime on the main thread")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    // wrk needs 64 descriptors, a hostile client thousands: ask for plenty, as servers do.
    support::raise_descriptor_limit(1 << 20);
    try {
        const http::Options options{
            .header_timeout = std::chrono::milliseconds(header_timeout_ms),
            .idle_timeout = std::chrono::milliseconds(idle_timeout_ms),
            .shutdown_timeout = std::chrono::milliseconds(shutdown_timeout_ms),
        };
        rt::Runtime runtime(static_cast<std::size_t>(workers));
        runtime.block_on(run(rt::net::SocketAddress::parse(address_text(host, port)), options));
    } catch (const std::system_error& error) {  // EADDRINUSE, EACCES, EADDRNOTAVAIL, ...
        std::fprintf(stderr, "http-server: cannot serve: %s\n", error.what());
        return 1;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "http-server: %s\n", error.what());
        return 1;
    }
    return 0;
}
