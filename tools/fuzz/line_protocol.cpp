// Fuzz target for the line protocol of exercise 05-01, as its solution implements it
// (solutions/05-epoll-reactor/01-line-protocol): ex::LineReader, which cuts a TCP stream into
// lines, and ex::answer, which replies to one line. The input is a client's stream, after two
// bytes that choose the reader's limit and how the stream is cut into writes:
//   byte 0: the longest line, 1 + byte % 64 bytes (a byte from 0xF0 up: the default, 4096);
//   byte 1: the writes' size, 1 + byte % 32 bytes (each write followed by a yield, so the reader
//           sees lines cut anywhere, "\r\n" included);
//   the rest: the bytes the client sends, then it closes its side.
// The reader runs on chapter 5's runtime over a socketpair, as the server's reader does over
// TCP. Checked, and a violation traps:
//  - the lines read are the stream cut at each '\n', without it nor the '\r' before it, and
//    stop where the model says: at the end of the stream (the unfinished line's length is
//    unfinished()), or at the first line longer than the limit (LineTooLong), however the
//    stream was cut into writes;
//  - each line's reply (ex::answer) is one line (no '\n' in it); UPPER capitalises its text and
//    changes nothing else; REVERSE reverses it; SUM is the sum of its integers (computed here in
//    128 bits), or an error that names a real cause; QUIT closes, and only QUIT does.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <line_reader.hpp>
#include <line_server.hpp>

#include "rt/async_fd.hpp"
#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/yield_now.hpp"

namespace {

void check(bool holds, const char* property) {
    if (!holds) {
        std::fprintf(stderr, "property violated: %s\n", property);
        __builtin_trap();
    }
}

/// What a reader made of a stream, or what the model says it should.
struct Lines {
    std::vector<std::string> lines;  // handed out, in order
    bool too_long = false;           // ended with LineTooLong
    std::size_t unfinished = 0;      // otherwise: the unfinished line the stream ended with

    bool operator==(const Lines&) const = default;
};

Lines model(std::string_view stream, std::size_t limit) {
    Lines expected;
    for (;;) {
        const std::size_t newline = stream.find('\n');
        const std::size_t length = newline == std::string_view::npos ? stream.size() : newline;
        if (length > limit) {
            expected.too_long = true;
            return expected;
        }
        if (newline == std::string_view::npos) {
            expected.unfinished = stream.size();
            return expected;
        }
        std::string_view line = stream.substr(0, newline);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        expected.lines.emplace_back(line);
        stream.remove_prefix(newline + 1);
    }
}

rt::Task<Lines> read_lines(rt::net::TcpStream& stream, std::size_t limit) {
    Lines got;
    ex::LineReader reader(stream, limit);
    try {
        while (std::optional<std::string> line = co_await reader.read_line()) {
            got.lines.push_back(std::move(*line));
        }
        got.unfinished = reader.unfinished();
    } catch (const ex::LineTooLong&) {
        got.too_long = true;
    }
    co_return got;
}

rt::Task<void> write_in_pieces(rt::net::TcpStream& stream, std::string_view bytes,
                               std::size_t piece) {
    for (std::size_t at = 0; at < bytes.size(); at += piece) {
        co_await stream.write_all(bytes.substr(at, piece));
        co_await rt::yield_now();  // the reader runs: it sees the stream cut here
    }
    stream.shutdown_write();
}

/// The stream sent through a socketpair, in pieces, and read by a LineReader.
rt::Task<Lines> through_socket(std::string_view bytes, std::size_t limit, std::size_t piece) {
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0, "socketpair works");
    rt::net::TcpStream server{rt::AsyncFd(fds[0])};
    rt::net::TcpStream client{rt::AsyncFd(fds[1])};
    rt::JoinHandle<void> writer = rt::spawn(write_in_pieces(client, bytes, piece));
    Lines got = co_await read_lines(server, limit);
    // The reader may stop early (a line too long): read the rest, so that the writer is never
    // stuck on a full socket (a socketpair's buffer holds few one-byte writes).
    std::vector<char> rest(4096);
    while (co_await server.read(rest) != 0) {
    }
    co_await writer;
    co_return got;
}

/// `text` with a to z in capitals.
std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
}

/// Checks SUM's reply against the sum of its integers, computed in 128 bits.
void check_sum(std::string_view arguments, const std::string& reply) {
    __int128 total = 0;
    bool not_integer = false;
    bool overflows = false;  // a term or a partial sum outside 64 bits
    while (!arguments.empty()) {
        const std::size_t space = arguments.find(' ');
        const std::string_view token = arguments.substr(0, space);
        arguments =
            space == std::string_view::npos ? std::string_view() : arguments.substr(space + 1);
        if (token.empty()) continue;
        std::int64_t value = 0;
        const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
        if (error == std::errc::result_out_of_range) {
            overflows = true;
        } else if (error != std::errc() || end != token.data() + token.size()) {
            not_integer = true;
        }
        total += value;
        if (total > INT64_MAX || total < INT64_MIN) overflows = true;
    }
    if (reply.starts_with("ERR SUM overflows")) {
        check(overflows, "SUM overflows only when a term or a partial sum leaves 64 bits");
    } else if (reply.starts_with("ERR SUM takes integers")) {
        check(not_integer, "SUM refuses only what is not an integer");
    } else {
        check(!overflows && !not_integer, "SUM answers a number only for integers in range");
        check(reply == std::to_string(static_cast<std::int64_t>(total)), "SUM adds right");
    }
}

void check_answer(std::string_view request) {
    const ex::Answer reply = ex::answer(request);
    check(reply.line.find('\n') == std::string::npos, "a reply is one line");
    check(reply.close == (request == "QUIT"), "QUIT closes, and only QUIT");
    const std::size_t space = request.find(' ');
    const std::string_view command = request.substr(0, space);
    const std::string_view argument =
        space == std::string_view::npos ? std::string_view() : request.substr(space + 1);
    if (command == "UPPER") {
        check(reply.line == upper(argument), "UPPER capitalises a to z, and nothing else");
    } else if (command == "REVERSE") {
        check(reply.line == std::string(argument.rbegin(), argument.rend()), "REVERSE reverses");
    } else if (command == "SUM") {
        check_sum(argument, reply.line);
    } else if (command != "QUIT") {
        check(reply.line.starts_with("ERR "), "anything else is an error");
        check(reply.line.size() <= 64, "an error quotes at most 32 bytes of the request");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t limit = data[0] >= 0xF0 ? ex::max_line_length : 1 + data[0] % 64;
    const std::size_t piece = 1 + data[1] % 32;
    const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    static rt::Executor executor;  // one for every input: creating one costs an epoll and more
    const Lines got = executor.block_on(through_socket(stream, limit, piece));
    check(got == model(stream, limit), "the reader cuts the stream as the model does");

    for (const std::string& line : got.lines) check_answer(line);
    return 0;
}
