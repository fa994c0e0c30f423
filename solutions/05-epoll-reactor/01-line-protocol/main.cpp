// Exercise 05-01's program: the line protocol server on 127.0.0.1, and scripted clients in the
// same process, on the same thread: a request sent one byte at a time, requests pipelined in one
// write, CLIENTS clients at once, a line longer than the limit, and a client that leaves in the
// middle of a line. Prints each conversation and how the server saw each connection end; with
// --serve-ms it then keeps serving, for nc or telnet. Exits 0 when every reply was the expected
// one.
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <line_reader.hpp>
#include <line_server.hpp>

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

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

struct Options {
    std::string address = "127.0.0.1:0";
    int clients = 8;
    int requests = 5;
    std::size_t max_line = ex::max_line_length;
    int serve_ms = 0;
};

/// The server's side: every connection accepted, served in a task of its own.
struct Server {
    std::vector<rt::JoinHandle<ex::Served>> connections;  // in accept order
};

/// Accept for ever (until block_on returns and cancels this task).
rt::Task<void> accept_loop(TcpListener& listener, std::size_t max_line, Server& server) {
    for (;;) {
        TcpStream stream = co_await listener.accept();
        stream.set_nodelay(true);
        server.connections.push_back(rt::spawn(ex::handle_connection(std::move(stream), max_line)));
    }
}

/// One line of a conversation, printable: a "\r" shown, long text shortened.
std::string shown(std::string_view line) {
    std::string out;
    for (const char c : line.substr(0, 34))
        out += c == '\r' ? std::string("\\r") : std::string(1, c);
    if (line.size() > 34) out += "... (" + std::to_string(line.size()) + " bytes)";
    return out;
}

/// `text` cut into lines, each without its '\n' (an unfinished last line included).
std::vector<std::string> lines_of(std::string_view text) {
    std::vector<std::string> lines;
    while (!text.empty()) {
        const std::size_t newline = text.find('\n');
        lines.emplace_back(text.substr(0, newline));
        text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    }
    return lines;
}

/// Requests and replies side by side, in two columns.
void print_conversation(std::string_view requests, std::string_view replies) {
    const std::vector<std::string> sent = lines_of(requests);
    const std::vector<std::string> received = lines_of(replies);
    for (std::size_t i = 0; i < sent.size() || i < received.size(); ++i) {
        const std::string left = i < sent.size() ? "> " + shown(sent[i]) : "";
        const std::string right = i < received.size() ? "< " + shown(received[i]) : "";
        std::printf("  %-44s %s\n", left.c_str(), right.c_str());
    }
}

rt::Task<TcpStream> connect(SocketAddress address) {
    TcpStream stream = co_await TcpStream::connect(address);
    stream.set_nodelay(true);
    co_return stream;
}

/// Everything the server sends until it closes (a reset after the last reply counts as a close).
rt::Task<std::string> read_to_end(TcpStream& stream) {
    std::string bytes;
    std::vector<char> buffer(4096);
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

/// Send `requests` on one connection (in pieces of `piece` bytes), read the replies until the
/// server closes, and compare them with `expected`.
rt::Task<bool> conversation(const char* title, SocketAddress address, std::string requests,
                            std::size_t piece, std::string expected) {
    TcpStream stream = co_await connect(address);
    for (std::size_t at = 0; at < requests.size(); at += piece) {
        co_await stream.write_all(std::string_view(requests).substr(at, piece));
        co_await rt::yield_now();  // the server reads what arrived: part of a line, often
    }
    const std::string replies = co_await read_to_end(stream);
    std::printf("%s\n", title);
    print_conversation(requests, replies);
    const bool ok = replies == expected;
    if (!ok) {
        std::printf("  but the replies expected were:\n");
        print_conversation("", expected);
    }
    std::printf("\n");
    co_return ok;
}

/// One of the concurrent clients: `requests` SUMs, one at a time, then QUIT.
rt::Task<int> counting_client(SocketAddress address, int id, int requests) {
    TcpStream stream = co_await connect(address);
    ex::LineReader replies(stream);  // the client reads lines too
    int right = 0;
    for (int r = 0; r < requests; ++r) {
        co_await stream.write_all("SUM " + std::to_string(id) + " " + std::to_string(r) + "\n");
        const std::optional<std::string> reply = co_await replies.read_line();
        if (reply == std::to_string(id + r)) ++right;
    }
    co_await stream.write_all(std::string_view("QUIT\n"));
    if (co_await replies.read_line() == std::optional<std::string>("BYE")) ++right;
    co_return right;
}

rt::Task<bool> demo(const Options& options) {
    TcpListener listener = TcpListener::bind(options.address);
    const SocketAddress address = listener.local_address();
    Server server;
    rt::spawn(accept_loop(listener, options.max_line, server));
    std::printf("line server on %s, lines up to %zu bytes\n\n", address.to_string().c_str(),
                options.max_line);
    const bool byte_by_byte = co_await conversation(
        "one byte per write: the line is answered once it is whole", address,
        "REVERSE hello, line protocol\r\nQUIT\r\n", 1, "locotorp enil ,olleh\nBYE\n");
    const bool pipelined = co_await conversation(
        "pipelined: many requests in one write, answered in order", address,
        "UPPER quiet\nREVERSE stressed\nSUM 40 2\nSUM 1 two\nHELLO\n\nQUIT\n"
        "UPPER after quit: never answered\n",
        1 << 20,
        "QUIET\ndesserts\n42\nERR SUM takes integers, not 'two'\nERR unknown command 'HELLO'\n"
        "ERR empty line\nBYE\n");
    const bool too_long = co_await conversation(
        "a line longer than the limit: refused, and the connection closed", address,
        "UPPER " + std::string(options.max_line, 'x') + "\n", 1 << 20, "ERR line too long\n");
    bool ok = byte_by_byte && pipelined && too_long;
    {
        TcpStream leaves = co_await connect(address);
        co_await leaves.write_all(std::string_view("UPPER unfinis"));
        std::printf("a client sends \"UPPER unfinis\" and leaves in the middle of its line\n\n");
    }  // closed here

    std::vector<rt::JoinHandle<int>> clients;
    for (int id = 0; id < options.clients; ++id) {
        clients.push_back(rt::spawn(counting_client(address, id, options.requests)));
    }
    int right = 0;
    for (rt::JoinHandle<int>& client : clients) right += co_await client;
    const int expected = options.clients * (options.requests + 1);
    std::printf("%d clients at once, %d requests and QUIT each: %d of %d replies right\n\n",
                options.clients, options.requests, right, expected);
    ok = ok && right == expected;

    // Every connection above has been accepted by now: wait for the server's side of each.
    const char* scripted[] = {"one byte per write", "pipelined", "line too long", "left mid-line"};
    const ex::Ending endings[] = {ex::Ending::quit, ex::Ending::quit, ex::Ending::too_long,
                                  ex::Ending::closed_mid_line};
    std::printf("how the server saw each connection end:\n");
    std::size_t as_expected = 0;  // of the concurrent clients' connections
    for (std::size_t i = 0; i < server.connections.size(); ++i) {
        const ex::Served served = co_await server.connections[i];
        if (i < 4) {
            std::printf("  %-20s %zu requests answered, then %s\n", scripted[i], served.requests,
                        ex::to_string(served.ending));
            ok = ok && served.ending == endings[i];
        } else if (served.ending == ex::Ending::quit &&
                   served.requests == static_cast<std::size_t>(options.requests) + 1) {
            ++as_expected;
        }
    }
    std::printf("  %-20s %zu of %d answered %d requests, then quit\n", "concurrent clients",
                as_expected, options.clients, options.requests + 1);
    ok = ok && as_expected == static_cast<std::size_t>(options.clients);

    if (options.serve_ms > 0) {
        std::printf(
            "\nserving for %d ms more on %s: try nc or telnet (SUM 1 2 3, UPPER hi, QUIT)\n",
            options.serve_ms, address.to_string().c_str());
        std::fflush(stdout);
        co_await rt::sleep(std::chrono::milliseconds(options.serve_ms));
    }
    co_return ok;  // the accept loop and any connection still open are cancelled on return
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    CLI::App app{
        "Exercise 05-01: a line protocol server (UPPER text, REVERSE text, SUM 1 2 3, QUIT; "
        "\"ERR ...\" otherwise) and scripted clients in one process, on one thread: a request "
        "sent one byte at a time, requests pipelined in one write, a line longer than the limit, "
        "a client that leaves mid-line, and CLIENTS clients at once. Prints each conversation and "
        "how the server saw each connection end.",
        "solution-05-01"};
    app.add_option("-a,--address", options.address, "where to listen (port 0: a free one)")
        ->check([](const std::string& text) {
            try {
                SocketAddress::parse(text);
                return std::string();
            } catch (const std::invalid_argument& error) {
                return std::string(error.what());
            }
        })
        ->capture_default_str();
    app.add_option("-c,--clients", options.clients, "clients served at the same time")
        ->check(CLI::Range(0, 400))
        ->capture_default_str();
    app.add_option("-r,--requests", options.requests, "requests each of those clients sends")
        ->check(CLI::Range(0, 100000))
        ->capture_default_str();
    app.add_option("-l,--max-line", options.max_line, "longest line accepted, in bytes")
        ->check(CLI::Range(std::size_t{64}, std::size_t{1} << 20))
        ->capture_default_str();
    app.add_option("-s,--serve-ms", options.serve_ms,
                   "then keep serving this long, for nc or telnet (ms)")
        ->check(CLI::Range(0, 3600 * 1000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    bool ok = false;
    try {
        ok = rt::block_on(demo(options));
    } catch (const std::exception& error) {
        std::fprintf(stderr, "solution-05-01: %s\n", error.what());
        return 1;
    }
    std::printf("\n%s\n", ok ? "Every reply was the expected one."
                             : "SOME REPLY WAS NOT THE EXPECTED ONE (a bug)");
    return ok ? 0 : 1;
}
