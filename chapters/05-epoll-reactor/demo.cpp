// Chapter 5's demo: an echo server and its own load generator in one process, on one thread.
// CONNECTIONS clients each send MESSAGES messages of SIZE bytes, one at a time, and check that
// every byte comes back; the program prints the throughput and whether everything came back
// intact. With --serve it runs the echo server alone, for clients of its own (the hostile
// clients of tools/hostile/ among them): it prints "listening on 127.0.0.1:PORT" on stdout
// and serves until it is killed (SIGINT, SIGTERM: the default action ends the process).
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "support/cli.hpp"
#include "support/cpu_time.hpp"
#include "support/descriptors.hpp"
#include "support/format.hpp"

namespace {

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

// snippet-begin: echo-server
/// Echo one connection: write back every byte read, until the client closes its side.
rt::Task<void> echo(TcpStream stream) {
    std::vector<char> buffer(16 * 1024);
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) co_return;  // the client is done
        co_await stream.write_all(std::span(buffer.data(), got));
    }
}

/// Accept connections for ever, each in a task of its own.
rt::Task<void> serve(TcpListener listener) {
    for (;;) {
        TcpStream stream = co_await listener.accept();
        stream.set_nodelay(true);
        rt::spawn(echo(std::move(stream)));
    }
}
// snippet-end: echo-server

/// What one client saw.
struct ClientResult {
    std::uint64_t bytes = 0;   // bytes sent, and received back
    std::uint64_t intact = 0;  // messages that came back identical
};

/// Send `messages` messages, each filled with a pattern that depends on the client and the
/// message, and compare each reply with what was sent.
rt::Task<ClientResult> client(SocketAddress address, int id, int messages, std::size_t size) {
    TcpStream stream = co_await TcpStream::connect(address);
    stream.set_nodelay(true);
    std::string sent(size, '\0');
    std::string back(size, '\0');
    ClientResult result;
    for (int m = 0; m < messages; ++m) {
        for (std::size_t i = 0; i < size; ++i) {
            sent[i] = static_cast<char>(
                (static_cast<std::size_t>(id) * 131 + static_cast<std::size_t>(m) * 31 + i) % 251);
        }
        co_await stream.write_all(sent);
        co_await stream.read_exact(back);
        result.bytes += size;
        if (back == sent) ++result.intact;
    }
    co_return result;
}

struct Totals {
    std::uint64_t bytes = 0;
    std::uint64_t intact = 0;
    std::uint16_t port = 0;
};

rt::Task<Totals> run(std::string address, int connections, int messages, std::size_t size) {
    TcpListener listener = TcpListener::bind(address);
    const SocketAddress bound = listener.local_address();
    rt::spawn(serve(std::move(listener)));
    std::vector<rt::JoinHandle<ClientResult>> clients;
    for (int id = 0; id < connections; ++id) {
        clients.push_back(rt::spawn(client(bound, id, messages, size)));
    }
    Totals totals;
    totals.port = bound.port();
    for (auto& handle : clients) {
        const ClientResult result = co_await handle;
        totals.bytes += result.bytes;
        totals.intact += result.intact;
    }
    co_return totals;  // the server's tasks are cancelled when block_on returns
}

/// --serve: bind, say where on stdout (a test reads the port there), and serve for ever.
rt::Task<void> serve_only(std::string address) {
    TcpListener listener = TcpListener::bind(address);
    std::printf("listening on %s\n", listener.local_address().to_string().c_str());
    std::fflush(stdout);
    co_await serve(std::move(listener));  // returns only by throwing, if an accept fails
}

}  // namespace

int main(int argc, char** argv) {
    int connections = 100;
    int messages = 1000;
    int size = 1024;
    int port = 0;
    bool serve_alone = false;

    CLI::App app{
        "Chapter 5: the epoll I/O driver. Runs an echo server and CONNECTIONS clients in one "
        "process, on one thread: each client sends MESSAGES messages of SIZE bytes, one at a "
        "time, and checks that every byte comes back. Prints the throughput, and whether every "
        "message came back intact.",
        "demo"};
    app.add_option("-c,--connections", connections, "clients connected at the same time")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("-m,--messages", messages, "messages each client sends")
        ->check(CLI::Range(1, 10000000))
        ->capture_default_str();
    app.add_option("-s,--size", size, "bytes per message")
        ->check(CLI::Range(1, 16 * 1024 * 1024))
        ->capture_default_str();
    app.add_option("-p,--port", port, "port on 127.0.0.1 to listen on; 0 picks a free one")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    app.add_flag("--serve", serve_alone,
                 "run only the echo server: print \"listening on 127.0.0.1:PORT\" and serve "
                 "until killed");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    if (serve_alone) {
        // This accept loop ends at the first failure, out of descriptors included: the
        // limit is raised, and said when it is low.
        support::raise_descriptor_limit_for_server("demo");
        try {
            rt::block_on(serve_only("127.0.0.1:" + std::to_string(port)));
        } catch (const std::exception& error) {  // EADDRINUSE, or an accept that failed
            std::fprintf(stderr, "demo: the echo server stopped: %s\n", error.what());
        }
        return 1;  // serve returns only by throwing
    }

    const std::uint64_t expected =
        static_cast<std::uint64_t>(connections) * static_cast<std::uint64_t>(messages);
    support::Stopwatch stopwatch;
    Totals totals;
    try {
        totals = rt::block_on(run("127.0.0.1:" + std::to_string(port), connections, messages,
                                  static_cast<std::size_t>(size)));
    } catch (const std::system_error& error) {
        std::fprintf(stderr, "demo: %s\n", error.what());
        if (error.code().value() == EMFILE) {
            std::fprintf(stderr, "Each connection needs two descriptors; raise `ulimit -n`.\n");
        }
        return 1;
    }
    const double wall = stopwatch.wall_seconds();
    const double cpu = stopwatch.cpu_seconds();

    std::printf("echo server on 127.0.0.1:%u, %d connections x %d messages of %d bytes\n\n",
                totals.port, connections, messages, size);
    std::printf("%-24s %s of %s\n", "messages intact", support::with_commas(totals.intact).c_str(),
                support::with_commas(expected).c_str());
    std::printf("%-24s %s\n", "bytes echoed", support::with_commas(totals.bytes).c_str());
    std::printf("%-24s %.2f s (CPU %.2f s, one thread)\n", "time", wall, cpu);
    std::printf("%-24s %s round trips/s, %.1f MB/s each way\n", "throughput",
                support::with_commas(static_cast<std::uint64_t>(expected / wall)).c_str(),
                static_cast<double>(totals.bytes) / wall / 1e6);
    if (totals.intact != expected) {
        std::printf("\nSOME MESSAGES CAME BACK DAMAGED\n");
        return 1;
    }
    std::printf("\nevery byte came back intact\n");
    return 0;
}
