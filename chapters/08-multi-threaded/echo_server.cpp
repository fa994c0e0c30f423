// echo-server: chapter 5's echo server on this chapter's runtime, single-threaded or with
// --workers threads, for clients of its own (the hostile clients of tools/hostile/ among them).
// It prints "listening on 127.0.0.1:PORT" on stdout and serves until it is killed (SIGINT,
// SIGTERM: the default action ends the process). Guarantees: every byte a client sends comes
// back to it, in order, whatever other clients do; a client that resets or fails ends its own
// connection only (the task's exception is its outcome, dropped with its detached handle).
// Its accept loop is chapter 5's, the simplest: the first accept that fails (out of
// descriptors) ends it, and the program exits with a message; http/server.hpp's serve shows
// what a server does instead.
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "support/cli.hpp"
#include "support/descriptors.hpp"

namespace {

using rt::net::TcpListener;
using rt::net::TcpStream;

/// Echo one connection: write back every byte read, until the client closes its side.
/// A client that stops reading makes write_all wait, and then nothing more is read from it:
/// its bytes wait in the kernel, not in the server's memory.
rt::Task<void> echo(TcpStream stream) {
    std::vector<char> buffer(16 * 1024);
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) co_return;  // the client is done
        co_await stream.write_all(std::span(buffer.data(), got));
    }
}

/// Bind, say where on stdout, and accept connections for ever, each in a task of its own.
rt::Task<void> serve(std::string address) {
    TcpListener listener = TcpListener::bind(address);
    std::printf("listening on %s\n", listener.local_address().to_string().c_str());
    std::fflush(stdout);
    for (;;) {
        TcpStream stream = co_await listener.accept();
        stream.set_nodelay(true);
        rt::spawn(echo(std::move(stream)));
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
    } catch (const std::exception& error) {  // EADDRINUSE, or an accept that failed
        std::fprintf(stderr, "echo-server: stopped: %s\n", error.what());
    }
    return 1;  // serve returns only by throwing
}
