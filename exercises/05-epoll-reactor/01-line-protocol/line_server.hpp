// Exercise 05-01 (starter): a line protocol server. Compiles; handle_connection, marked
// TODO(exercise), is yours: answer every request line of one connection with one reply line, in
// order, until QUIT, the end of the stream, a line too long or a failure, and never throw: how
// the connection ended is its value. The protocol itself (ex::answer) and the accept loop
// (ex::serve) are written for you.
//
// The protocol (ex::answer): a request is a line ending in "\n" or "\r\n"; its reply is one line
// ending in "\n".
//   UPPER text     -> text in capitals          REVERSE text -> text backwards
//   SUM 1 2 -3     -> 0 (64-bit integers)       QUIT         -> BYE, then the server closes
//   anything else  -> "ERR ..."; a line longer than the limit -> "ERR line too long", then close
#pragma once

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <line_reader.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"

namespace ex {

/// The reply to one request.
struct Answer {
    std::string line;    // without its "\n"
    bool close = false;  // QUIT: close the connection once the reply is written
};

namespace detail {

/// At most `size` bytes of `text`, to quote a client's input in an error reply.
inline std::string quote(std::string_view text, std::size_t size = 32) {
    return std::string(text.substr(0, size));
}

/// SUM's reply: the sum of the integers in `arguments`, separated by spaces.
inline std::string sum(std::string_view arguments) {
    std::int64_t total = 0;
    while (!arguments.empty()) {
        const std::size_t space = arguments.find(' ');
        const std::string_view token = arguments.substr(0, space);
        arguments =
            space == std::string_view::npos ? std::string_view() : arguments.substr(space + 1);
        if (token.empty()) continue;  // two spaces in a row
        std::int64_t value = 0;
        const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
        if (error == std::errc::result_out_of_range) return "ERR SUM overflows";
        if (error != std::errc() || end != token.data() + token.size()) {
            return "ERR SUM takes integers, not '" + quote(token) + "'";
        }
        constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
        constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
        if ((value > 0 && total > max - value) || (value < 0 && total < min - value)) {
            return "ERR SUM overflows";
        }
        total += value;
    }
    return std::to_string(total);
}

}  // namespace detail

/// The reply to one request line (without its "\n" or "\r\n").
inline Answer answer(std::string_view request) {
    if (request.empty()) return {"ERR empty line"};
    const std::size_t space = request.find(' ');
    const std::string_view command = request.substr(0, space);
    const std::string_view argument =
        space == std::string_view::npos ? std::string_view() : request.substr(space + 1);
    if (command == "UPPER") {
        std::string text(argument);
        for (char& c : text) {
            if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
        }
        return {std::move(text)};
    }
    if (command == "REVERSE") return {std::string(argument.rbegin(), argument.rend())};
    if (command == "SUM") return {detail::sum(argument)};
    if (command == "QUIT") {
        if (space != std::string_view::npos) return {"ERR QUIT takes no argument"};
        return {"BYE", true};
    }
    return {"ERR unknown command '" + detail::quote(command) + "'"};
}

/// How a connection ended.
enum class Ending {
    quit,             // the client sent QUIT, and was answered BYE
    closed,           // the client closed its side between two lines
    closed_mid_line,  // the client closed its side in the middle of a line, which was dropped
    too_long,         // a line longer than the limit: answered "ERR line too long", then closed
    failed,           // a read or a write failed (a reset, most often); `error` says what
};

inline const char* to_string(Ending ending) {
    switch (ending) {
        case Ending::quit:
            return "quit";
        case Ending::closed:
            return "closed";
        case Ending::closed_mid_line:
            return "closed mid-line";
        case Ending::too_long:
            return "line too long";
        case Ending::failed:
            return "failed";
    }
    return "?";
}

/// What handle_connection did.
struct Served {
    std::size_t requests = 0;        // requests answered (QUIT included)
    Ending ending = Ending::failed;  // how the connection ended
    std::string error;               // what failed, when something did
};

/// Serve one connection: read request lines, write one reply line for each, in order. Ends at
/// QUIT, at the end of the stream, at a line longer than `limit` (after replying "ERR line too
/// long"), or when a read or a write fails. Never throws; the stream is closed on return.
inline rt::Task<Served> handle_connection(rt::net::TcpStream stream,
                                          std::size_t limit = max_line_length) {
    // TODO(exercise): with a LineReader on the stream, loop: read a line; at the end of the
    // stream, stop (Ending::closed, or Ending::closed_mid_line when reader.unfinished() is not
    // 0); otherwise write answer(line).line and a '\n' with write_all, count the request, and
    // stop after a reply whose `close` is set (Ending::quit).
    // Catch LineTooLong: reply "ERR line too long\n", then stop (Ending::too_long). But C++
    // allows no co_await inside a catch block: note it there, and write the reply after the
    // try block. Catch any other std::exception: Ending::failed, with what() in `error`.
    (void)stream;
    (void)limit;
    co_return Served{};  // the stream closes with the frame, just after
}

/// Accept `connections` connections on `listener` and serve each in a task of its own, all at
/// the same time; ready, once every one has ended, with how each ended, in accept order.
inline rt::Task<std::vector<Served>> serve(rt::net::TcpListener& listener, std::size_t connections,
                                           std::size_t limit = max_line_length) {
    std::vector<rt::JoinHandle<Served>> handles;
    for (std::size_t i = 0; i < connections; ++i) {
        rt::net::TcpStream stream = co_await listener.accept();
        stream.set_nodelay(true);  // replies go out at once, not coalesced with later ones
        handles.push_back(rt::spawn(handle_connection(std::move(stream), limit)));
    }
    std::vector<Served> served;
    for (rt::JoinHandle<Served>& handle : handles) served.push_back(co_await handle);
    co_return served;
}

}  // namespace ex
