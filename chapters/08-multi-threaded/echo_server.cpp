// echo-server: chapter 5's echo server on this chapter's runtime, single-threaded or with
// --workers threads, for clients of its own (the hostile clients of tools/hostile/ among them).
// It prints "listening on 127.0.0.1:PORT" on stdout and serves until it is killed (SIGINT,
// SIGTERM: the default action ends the process). Guarantees: every byte a client sends comes
// back to it, in order, whatever other clients do; a client that resets or fails ends its own
// connection only, quietly.
// An accept that fails does not end it (chapter 5's accept loop does): out of descriptors
// (EMFILE, ENFILE), the connections beyond the limit wait in the listener's backlog, and the
// server tries again every accept_retry, until a connection closes and frees a descriptor;
// one line on stderr says so, once for each run of failures. (http/server.hpp's serve goes
// further: it refuses the connections it has no room for, with a descriptor kept spare.)
#include <chrono>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"
#include "support/descriptors.hpp"

namespace {

using rt::net::TcpListener;
using rt::net::TcpStream;

/// Echo one connection: write back every byte read, until the client closes its side.
/// A client that stops reading makes write_all wait, and then nothing more is read from it:
/// its bytes wait in the kernel, not in the server's memory.
/// A reset, or any other failure, ends this connection quietly: it is an ordinary end of a
/// connection, not the server's error (uncaught, the runtime would report it on stderr as an
/// exception nobody awaited).
rt::Task<void> echo(TcpStream stream) {
    std::vector<char> buffer(16 * 1024);
    try {
        for (;;) {
            const std::size_t got = co_await stream.read(buffer);
            if (got == 0) co_return;  // the client is done
            co_await stream.write_all(std::span(buffer.data(), got));
        }
    } catch (const std::system_error&) {
        // ECONNRESET, EPIPE: the client went away; its connection closes with `stream`
    }
}

/// How long the accept loop waits after an accept failed before it tries again. A failed
/// accept leaves the listener readable (the connection still waits), so trying again at once
/// would spin a worker until a descriptor is freed.
constexpr auto accept_retry = std::chrono::milliseconds(20);

/// Bind, say where on stdout, and accept connections for ever, each in a task of its own.
rt::Task<void> serve(std::string address) {
    TcpListener listener = TcpListener::bind(address);
    std::printf("listening on %s\n", listener.local_address().to_string().c_str());
    std::fflush(stdout);
    bool failing = false;  // the last accept failed: its failure has been reported
    for (;;) {
        std::string failure;  // a coroutine cannot co_await inside a handler: noted, then slept
        try {
            TcpStream stream = co_await listener.accept();
            stream.set_nodelay(true);  // may fail too, if the client has reset already
            rt::spawn(echo(std::move(stream)));
        } catch (const std::exception& error) {  // std::system_error, or bad_alloc from spawn
            failure = error.what();
        }
        if (failure.empty()) {
            if (failing) std::fputs("echo-server: accepting again\n", stderr);
            failing = false;
            continue;
        }
        if (!failing) {
            std::fprintf(stderr, "echo-server: an accept failed (%s); trying again every %lld ms\n",
                         failure.c_str(), static_cast<long long>(accept_retry.count()));
        }
        failing = true;
        co_await rt::sleep(accept_retry);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int port = 0;
    int workers = 2;
    CLI::App app{
        "Chapter 5's echo server on chapter 8's runtime: every byte a client sends comes back. "
        "Prints \"listening on 127.0.0.1:PORT\", then serves until killed.",
        "echo-server"};
    app.add_option("-p,--port", port, "port on 127.0.0.1 to listen on; 0 picks a free one")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_option("-w,--workers", workers,
                   "worker threads; 0 runs the single-threaded runtime on the main thread")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    support::raise_descriptor_limit_for_server("echo-server");
    try {
        rt::Runtime runtime(static_cast<std::size_t>(workers));
        runtime.block_on(serve("127.0.0.1:" + std::to_string(port)));
    } catch (const std::exception& error) {  // EADDRINUSE, or no runtime
        std::fprintf(stderr, "echo-server: stopped: %s\n", error.what());
    }
    return 1;  // serve returns only by throwing
}
