// Exercise 05-02's program: a TCP proxy between clients and an upstream server, all in one
// process, on one thread. CLIENTS clients at once go through the proxy to an upstream that greets
// each with a banner and echoes it: each sends BYTES bytes while reading the echo, then ends its
// side, and checks every byte. Then two connections that fail: an upstream that refuses, and one
// that resets mid-stream; the client's stream ends, and the proxy reports why. Prints what the
// proxy reported for each connection; exits 0 when every outcome was the expected one.
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <proxy.hpp>
#include <try_join.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

constexpr std::string_view banner = "220 upstream here, send anything\r\n";

/// The upstream server: for each connection, the banner, then an echo until the client ends.
rt::Task<void> echo_with_banner(TcpStream stream) {
    co_await stream.write_all(banner);
    std::vector<char> buffer(64 * 1024);
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) break;
        co_await stream.write_all(std::span<const char>(buffer.data(), got));
    }
    stream.shutdown_write();
}

/// A flaky upstream server: reads what comes, answers half a sentence, then resets.
rt::Task<void> resets_mid_stream(TcpStream stream) {
    std::vector<char> buffer(1024);
    co_await stream.read(buffer);
    co_await stream.write_all(std::string_view("here is the first half of the ans"));
    const linger abort_on_close{1, 0};  // close sends RST instead of FIN
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof abort_on_close);
}

/// Accept for ever, and run `serve` on every connection in a task of its own (until block_on
/// returns and cancels these tasks).
rt::Task<void> upstream_server(TcpListener& listener, rt::Task<void> (*serve)(TcpStream)) {
    for (;;) rt::spawn(serve(co_await listener.accept()));
}

/// The proxy: accept for ever, proxy every client to `upstream` in a task of its own.
rt::Task<void> proxy_server(TcpListener& listener, SocketAddress upstream,
                            std::vector<rt::JoinHandle<ex::ProxyReport>>& reports) {
    for (;;) reports.push_back(rt::spawn(ex::proxy(co_await listener.accept(), upstream)));
}

/// Bytes 0, 1, ... 250, 0, 1, ..., shifted by `seed`, so that each client sends its own.
std::string pattern(std::size_t size, std::size_t seed) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i + seed) % 251);
    return bytes;
}

/// Everything read until the stream ends (a reset counts as an end, after the bytes before it).
rt::Task<std::string> read_to_end(TcpStream& stream) {
    std::string bytes;
    std::vector<char> buffer(64 * 1024);
    try {
        for (;;) {
            const std::size_t got = co_await stream.read(buffer);
            if (got == 0) break;
            bytes.append(buffer.data(), got);
        }
    } catch (const std::system_error&) {
    }
    co_return bytes;
}

/// A client through the proxy: the banner, then `size` bytes sent while the echo is read, then
/// the end of its side. True if the banner and every byte came back.
rt::Task<bool> client(SocketAddress proxy, std::size_t id, std::size_t size) {
    TcpStream stream = co_await TcpStream::connect(proxy);
    const std::string sent = pattern(size, id);
    // Write in a task of its own while this one reads: a client that wrote everything before
    // reading would stop, with every buffer on the way full.
    rt::JoinHandle<void> writer =
        rt::spawn([](TcpStream& stream, const std::string& sent) -> rt::Task<void> {
            co_await stream.write_all(sent);
            stream.shutdown_write();  // the upstream ends its echo when it reads this end
        }(stream, sent));
    const std::string received = co_await read_to_end(stream);
    co_await writer;
    co_return received == std::string(banner) + sent;
}

/// One client on a proxy whose upstream fails: it sends a question, reads until the end.
rt::Task<std::string> failing_client(SocketAddress proxy) {
    TcpStream stream = co_await TcpStream::connect(proxy);
    co_await stream.write_all(std::string_view("what is the answer?"));
    co_return co_await read_to_end(stream);
}

void print_report(const char* who, const ex::ProxyReport& report) {
    std::printf("  %-22s %s, %zu bytes up, %zu bytes down, %s\n", who,
                report.connected ? "connected" : "not connected", report.client_to_upstream,
                report.upstream_to_client,
                report.error.empty() ? "both directions ended cleanly" : report.error.c_str());
}

struct Options {
    int clients = 4;
    std::size_t bytes = 1 << 20;
    int serve_ms = 0;
};

rt::Task<bool> demo(const Options& options) {
    TcpListener upstream = TcpListener::bind("127.0.0.1:0");
    rt::spawn(upstream_server(upstream, echo_with_banner));
    TcpListener flaky = TcpListener::bind("127.0.0.1:0");
    rt::spawn(upstream_server(flaky, resets_mid_stream));
    const SocketAddress refusing = [] {  // bound, then closed: nobody listens there
        TcpListener listener = TcpListener::bind("127.0.0.1:0");
        return listener.local_address();
    }();

    std::vector<rt::JoinHandle<ex::ProxyReport>> reports;
    TcpListener front = TcpListener::bind("127.0.0.1:0");
    rt::spawn(proxy_server(front, upstream.local_address(), reports));
    std::printf("proxy on %s, to the upstream server on %s\n\n",
                front.local_address().to_string().c_str(),
                upstream.local_address().to_string().c_str());

    const Clock::time_point start = Clock::now();
    std::vector<rt::JoinHandle<bool>> clients;
    for (int id = 0; id < options.clients; ++id) {
        clients.push_back(
            rt::spawn(client(front.local_address(), static_cast<std::size_t>(id), options.bytes)));
    }
    int intact = 0;
    for (rt::JoinHandle<bool>& handle : clients) intact += co_await handle ? 1 : 0;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double megabytes =
        2.0 * static_cast<double>(options.bytes) * options.clients / (1024.0 * 1024.0);
    std::printf(
        "%d clients at once, %zu bytes each way: %d of %d got the banner and every byte "
        "back (%.1f MB through the proxy in %.3f s)\n",
        options.clients, options.bytes, intact, options.clients, megabytes, seconds);
    bool ok = intact == options.clients;

    std::vector<rt::JoinHandle<ex::ProxyReport>> failing;
    TcpListener to_refusing = TcpListener::bind("127.0.0.1:0");
    rt::spawn(proxy_server(to_refusing, refusing, failing));
    TcpListener to_flaky = TcpListener::bind("127.0.0.1:0");
    rt::spawn(proxy_server(to_flaky, flaky.local_address(), failing));
    const std::string refused = co_await failing_client(to_refusing.local_address());
    std::printf("a client whose upstream refuses the connection reads \"%s\", then the end\n",
                refused.c_str());
    const std::string half = co_await failing_client(to_flaky.local_address());
    std::printf("a client whose upstream resets mid-stream reads \"%s\", then the end\n",
                half.c_str());
    ok = ok && refused.empty() && half == "here is the first half of the ans";

    std::printf("\nthe proxy's reports:\n");
    int clean = 0;  // reports of clients that went as expected; the others are printed
    for (std::size_t i = 0; i < reports.size(); ++i) {
        const ex::ProxyReport report = co_await reports[i];
        if (report.connected && report.error.empty() &&
            report.client_to_upstream == options.bytes &&
            report.upstream_to_client == banner.size() + options.bytes) {
            ++clean;
        } else {
            print_report(("client " + std::to_string(i)).c_str(), report);
        }
    }
    std::printf(
        "  %-22s %d of %d connected, %zu bytes up and %zu down each, both directions "
        "ended cleanly\n",
        "clients", clean, options.clients, options.bytes, banner.size() + options.bytes);
    ok = ok && clean == options.clients;
    const ex::ProxyReport to_nobody = co_await failing[0];
    print_report("to a refusing upstream", to_nobody);
    const ex::ProxyReport to_reset = co_await failing[1];
    print_report("to a flaky upstream", to_reset);
    ok = ok && !to_nobody.connected && !to_nobody.error.empty() && to_reset.connected &&
         !to_reset.error.empty();

    if (options.serve_ms > 0) {
        std::printf("\nproxying for %d ms more on %s: try nc or telnet\n", options.serve_ms,
                    front.local_address().to_string().c_str());
        std::fflush(stdout);
        co_await rt::sleep(std::chrono::milliseconds(options.serve_ms));
    }
    co_return ok;  // the servers and any connection still open are cancelled on return
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Exercise 05-02: a TCP proxy, with its clients and its upstream server in one process, on "
        "one thread. CLIENTS clients at once go through the proxy to an upstream that sends a "
        "banner and echoes: each sends BYTES bytes while reading them back, then ends its side, "
        "which the proxy passes on. Then an upstream that refuses the connection, and one that "
        "resets mid-stream: the client's stream ends, and the proxy reports why.",
        "solution-05-02"};
    app.add_option("-c,--clients", options.clients, "clients through the proxy at the same time")
        ->check(CLI::Range(1, 200))
        ->capture_default_str();
    app.add_option("-b,--bytes", options.bytes, "bytes each client sends, and gets back")
        ->check(CLI::Range(std::size_t{0}, std::size_t{256} << 20))
        ->capture_default_str();
    app.add_option("-s,--serve-ms", options.serve_ms,
                   "then keep proxying to the echo server this long, for nc or telnet (ms)")
        ->check(CLI::Range(0, 3600 * 1000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    bool ok = false;
    try {
        ok = rt::block_on(demo(options));
    } catch (const std::exception& error) {
        std::fprintf(stderr, "solution-05-02: %s\n", error.what());
        return 1;
    }
    std::printf("\n%s\n", ok ? "Every outcome was the expected one."
                             : "SOME OUTCOME WAS NOT THE EXPECTED ONE (a bug)");
    return ok ? 0 : 1;
}
