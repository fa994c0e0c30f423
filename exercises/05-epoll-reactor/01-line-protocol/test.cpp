// Tests of exercise 05-01, the specification of ex::LineReader and ex::handle_connection, over
// real sockets on 127.0.0.1: lines come out whole however their bytes arrive (one at a time, or
// many lines in one read), replies arrive in order and complete however slowly the client reads,
// a line longer than the limit is refused without reading the rest, and a client that leaves in
// the middle of a line ends its own connection cleanly and no other. Every test ends on its own,
// even against the starter: a test that waits for testing::patience() (20 s) with nothing
// happening gives up with a message (testing::block_on_patient, common/include/testing/
// patient.hpp), and no verdict depends on how long anything took.
#include <doctest/doctest.h>

#include <line_reader.hpp>
#include <line_server.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/waker.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/patient.hpp"
#include "testing/printing.hpp"

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

// Failed checks print an Ending by its name (vectors: testing/printing.hpp).
namespace doctest {
template <>
struct StringMaker<ex::Ending> {
    static String convert(ex::Ending ending) { return ex::to_string(ending); }
};
}  // namespace doctest

namespace {

constexpr char stuck[] =
    "the test gave up after 20 s in which nothing woke it (testing::patience()): a task waited "
    "for bytes or for an end of stream that never came (a reply never written, a line never "
    "handed out, a connection never closed), or a wake was lost";

/// A connected pair over loopback: the client's end, and the server's.
struct Pair {
    TcpStream client;
    TcpStream server;
};

rt::Task<Pair> connected_pair() {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    TcpStream client = co_await TcpStream::connect(listener.local_address());
    TcpStream server = co_await listener.accept();
    client.set_nodelay(true);  // small writes leave at once, as separate segments
    co_return Pair{std::move(client), std::move(server)};
}

rt::Task<TcpStream> connect(SocketAddress address) {
    TcpStream stream = co_await TcpStream::connect(address);
    stream.set_nodelay(true);
    co_return stream;
}

/// Write `text` in pieces of `piece` bytes, letting the other tasks run between two pieces.
rt::Task<void> write_in_pieces(TcpStream& stream, std::string_view text, std::size_t piece) {
    for (std::size_t at = 0; at < text.size(); at += piece) {
        co_await stream.write_all(text.substr(at, piece));
        for (int i = 0; i < 3; ++i) co_await rt::yield_now();
    }
}

/// Own `stream`, write `text` in pieces, then close: the reader sees the end after the bytes.
rt::Task<void> write_then_close(TcpStream stream, std::string text, std::size_t piece) {
    co_await write_in_pieces(stream, text, piece);
}

/// Own `stream`, write `text`, then reset the connection (SO_LINGER 0: close sends RST).
rt::Task<void> write_then_reset(TcpStream stream, std::string text) {
    co_await stream.write_all(text);
    for (int i = 0; i < 10; ++i) co_await rt::yield_now();
    const linger abort_on_close{1, 0};
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof abort_on_close);
}

/// How far a writer of an endless line got.
struct Flood {
    std::size_t written = 0;  // bytes written
    bool stopped = false;     // a write failed: the other side closed
};

/// Write `prefix`, then 'x' for ever (up to 64 MiB), never a '\n', until a write fails.
rt::Task<Flood> flood(TcpStream& stream, std::string prefix) {
    Flood result;
    const std::string chunk(64 * 1024, 'x');
    try {
        co_await stream.write_all(prefix);
        while (result.written < (std::size_t{64} << 20)) {
            co_await stream.write_all(chunk);
            result.written += chunk.size();
        }
        stream.shutdown_write();
    } catch (const std::system_error&) {
        result.stopped = true;  // EPIPE or ECONNRESET
    }
    co_return result;
}

/// Everything read until the stream ends. A reset counts as an end: a server that closes with
/// input left unread sends one, after its last reply, which is still read first.
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

/// Read until `lines` '\n' have arrived, or the stream ends.
rt::Task<std::string> read_lines(TcpStream& stream, std::size_t lines) {
    std::string bytes;
    std::size_t seen = 0;
    char byte = 0;
    while (seen < lines) {  // a byte at a time: never a byte past the last line
        const std::size_t got = co_await stream.read(std::span(&byte, 1));
        if (got == 0) break;
        bytes += byte;
        if (byte == '\n') ++seen;
    }
    co_return bytes;
}

/// Nothing has arrived yet on `stream` (a peek that does not wait, and takes nothing).
bool nothing_to_read(const TcpStream& stream) {
    char byte = 0;
    const ssize_t got = ::recv(stream.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/// Cap a socket's send buffer at 256 KiB (the kernel doubles it), so that a reply of a megabyte
/// goes out in several partial writes. Not less: a send buffer smaller than two segments (64 KiB
/// each on loopback) waits for delayed acknowledgements, and the transfer would crawl.
void small_send_buffer(const TcpStream& stream) {
    const int size = 256 * 1024;
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
}

/// ex::serve on a listener the task owns.
rt::Task<std::vector<ex::Served>> serve_owned(TcpListener listener, std::size_t connections) {
    co_return co_await ex::serve(listener, connections);
}

/// A listener on a free port, served by ex::serve in a task of its own.
struct Server {
    SocketAddress address;
    rt::JoinHandle<std::vector<ex::Served>> served;
};

Server start_server(std::size_t connections) {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    const SocketAddress address = listener.local_address();
    return Server{address, rt::spawn(serve_owned(std::move(listener), connections))};
}

/// What a reader handed out: the lines, then how it stopped.
struct Lines {
    std::vector<std::string> lines;
    bool ended = false;          // read_line answered std::nullopt
    std::size_t unfinished = 0;  // then: unfinished()
    std::string error;           // or what it threw
    bool too_long = false;       // it threw LineTooLong
};

/// Read lines with `reader` until it answers std::nullopt or throws, at most `most` lines.
rt::Task<Lines> read_all_lines(ex::LineReader& reader, std::size_t most = 100) {
    Lines seen;
    try {
        while (seen.lines.size() < most) {
            std::optional<std::string> line = co_await reader.read_line();
            if (!line) {
                seen.ended = true;
                seen.unfinished = reader.unfinished();
                break;
            }
            seen.lines.push_back(std::move(*line));
        }
    } catch (const ex::LineTooLong& error) {
        seen.too_long = true;
        seen.error = error.what();
    } catch (const std::exception& error) {
        seen.error = error.what();
    }
    co_return seen;
}

/// `count` letters, starting at `first`, going round the alphabet.
std::string letters(std::size_t count, std::size_t first, char a) {
    std::string text(count, ' ');
    for (std::size_t i = 0; i < count; ++i) text[i] = static_cast<char>(a + (first + i) % 26);
    return text;
}

}  // namespace

TEST_SUITE("line reader") {
    TEST_CASE("lines written one byte at a time come out whole, without their \\n or \\r\\n") {
        const std::optional<Lines> seen = testing::block_on_patient([]() -> rt::Task<Lines> {
            Pair pair = co_await connected_pair();
            rt::spawn(write_then_close(std::move(pair.client), "hello, world\nsecond\r\n", 1));
            ex::LineReader reader(pair.server);
            co_return co_await read_all_lines(reader);
        }());
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        CHECK(seen->lines == std::vector<std::string>{"hello, world", "second"});
        CHECK(seen->ended);
        CHECK(seen->unfinished == 0);
        CHECK(seen->error == "");
    }

    TEST_CASE("several lines that arrive in one read come out one by one, in order") {
        const std::optional<Lines> seen = testing::block_on_patient([]() -> rt::Task<Lines> {
            Pair pair = co_await connected_pair();
            rt::spawn(write_then_close(std::move(pair.client), "a\nbb\r\n\nccc\nd\re\n", 1000));
            ex::LineReader reader(pair.server);
            co_return co_await read_all_lines(reader);
        }());
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        // An empty line is a line; a '\r' not just before the '\n' belongs to the line.
        CHECK(seen->lines == std::vector<std::string>{"a", "bb", "", "ccc", "d\re"});
        CHECK(seen->ended);
    }

    TEST_CASE("a stream that ends in the middle of a line ends the lines; the piece is dropped") {
        const std::optional<Lines> seen = testing::block_on_patient([]() -> rt::Task<Lines> {
            Pair pair = co_await connected_pair();
            rt::spawn(write_then_close(std::move(pair.client), "one\ntwo\nthr", 2));
            ex::LineReader reader(pair.server);
            co_return co_await read_all_lines(reader);
        }());
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        CHECK(seen->lines == std::vector<std::string>{"one", "two"});
        CHECK(seen->ended);
        CHECK(seen->unfinished == 3);  // "thr" never got its '\n'
    }

    TEST_CASE("a line as long as the limit is accepted, and one byte more is refused") {
        const std::optional<Lines> seen = testing::block_on_patient([]() -> rt::Task<Lines> {
            Pair pair = co_await connected_pair();
            rt::spawn(write_then_close(std::move(pair.client),
                                       "0123456789abcdef\n"   // 16 bytes: the limit
                                       "0123456789abcde\r\n"  // 16 with its '\r'
                                       "0123456789abcdefg\n"  // 17: too long
                                       "never read\n",
                                       1000));
            ex::LineReader reader(pair.server, 16);
            co_return co_await read_all_lines(reader);
        }());
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        CHECK(seen->lines == std::vector<std::string>{"0123456789abcdef", "0123456789abcde"});
        CHECK(seen->too_long);
        CHECK_FALSE(seen->ended);
    }

    TEST_CASE("an endless line is refused before the stream ends, not buffered for ever") {
        struct Outcome {
            Lines seen;
            Flood flood;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Pair pair = co_await connected_pair();
            rt::JoinHandle<Flood> writer = rt::spawn(flood(pair.client, "no end in sight: "));
            Lines seen;
            {
                TcpStream server = std::move(pair.server);
                ex::LineReader reader(server, 1024);
                seen = co_await read_all_lines(reader);
            }  // the server's end closes here: the writer's next writes fail
            Outcome outcome{std::move(seen), {}};
            outcome.flood = co_await writer;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->seen.lines.empty());
        CHECK(outcome->seen.too_long);
        CHECK(outcome->seen.error == "a line is longer than 1024 bytes");
        CHECK(outcome->flood.stopped);  // refused while the line was still coming
    }

    TEST_CASE("a reset while a line is coming is an exception out of read_line") {
        const std::optional<Lines> seen = testing::block_on_patient([]() -> rt::Task<Lines> {
            Pair pair = co_await connected_pair();
            rt::spawn(write_then_reset(std::move(pair.client), "whole\npart"));
            ex::LineReader reader(pair.server);
            co_return co_await read_all_lines(reader);
        }());
        REQUIRE_MESSAGE(seen.has_value(), stuck);
        CHECK(seen->lines == std::vector<std::string>{"whole"});
        CHECK_FALSE(seen->ended);
        CHECK_FALSE(seen->too_long);
        CHECK(seen->error.find("reset") != std::string::npos);  // "Connection reset by peer"
    }
}

TEST_SUITE("line server") {
    TEST_CASE("a request written one byte at a time is answered once its line is complete") {
        struct Outcome {
            bool replied_early = true;
            std::string replies;
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(1);
            TcpStream client = co_await connect(server.address);
            Outcome outcome;
            co_await write_in_pieces(client, "REVERSE hello, world\r", 1);
            for (int i = 0; i < 50; ++i) co_await rt::yield_now();  // time to answer too early
            outcome.replied_early = !nothing_to_read(client);
            co_await write_in_pieces(client, "\nQUIT\n", 1);
            outcome.replies = co_await read_to_end(client);
            outcome.served = co_await server.served;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK_FALSE(outcome->replied_early);
        CHECK(outcome->replies == "dlrow ,olleh\nBYE\n");
        REQUIRE(outcome->served.size() == 1);
        CHECK(outcome->served[0].requests == 2);
        CHECK(outcome->served[0].ending == ex::Ending::quit);
    }

    TEST_CASE("pipelined requests in one write are answered in order, and none after QUIT") {
        struct Outcome {
            std::string replies;
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(1);
            TcpStream client = co_await connect(server.address);
            co_await client.write_all(
                std::string_view("UPPER shout, please\n"
                                 "REVERSE abc\r\n"
                                 "SUM 1 2  3 -4\n"
                                 "SUM 9223372036854775807 1\n"
                                 "SUM 1 x\n"
                                 "PING\n"
                                 "\n"
                                 "QUIT\n"
                                 "UPPER too late\n"));
            Outcome outcome;
            outcome.replies = co_await read_to_end(client);
            outcome.served = co_await server.served;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->replies ==
              "SHOUT, PLEASE\n"
              "cba\n"
              "2\n"
              "ERR SUM overflows\n"
              "ERR SUM takes integers, not 'x'\n"
              "ERR unknown command 'PING'\n"
              "ERR empty line\n"
              "BYE\n");
        REQUIRE(outcome->served.size() == 1);
        CHECK(outcome->served[0].requests == 8);
        CHECK(outcome->served[0].ending == ex::Ending::quit);
    }

    TEST_CASE("replies larger than the socket buffers arrive whole, however slowly they are read") {
        // Lines of a megabyte (the limit is raised for this connection): each reply needs many
        // partial writes, since the server's send buffer takes a few hundred kilobytes at most.
        constexpr std::size_t requests = 4;
        constexpr std::size_t size = 1'000'000;
        struct Outcome {
            std::size_t intact = 0;
            std::size_t reply_bytes = 0;
            bool bye = false;
            ex::Served served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            TcpStream client = co_await connect(listener.local_address());
            TcpStream accepted = co_await listener.accept();
            small_send_buffer(accepted);
            rt::JoinHandle<ex::Served> server =
                rt::spawn(ex::handle_connection(std::move(accepted), std::size_t{1} << 20));
            // One task writes every request, while this one reads the replies, slowly.
            rt::JoinHandle<void> writer = rt::spawn([&client]() -> rt::Task<void> {
                for (std::size_t r = 0; r < requests; ++r) {
                    co_await client.write_all("UPPER " + letters(size, r, 'a') + "\n");
                }
                co_await client.write_all(std::string_view("QUIT\n"));
            });
            std::string replies;
            std::vector<char> buffer(4096);
            for (;;) {
                const std::size_t got = co_await client.read(buffer);
                if (got == 0) break;
                replies.append(buffer.data(), got);
                co_await rt::yield_now();  // a slow reader: the server's writes fill up
            }
            Outcome outcome;
            outcome.reply_bytes = replies.size();
            std::size_t at = 0;
            for (std::size_t r = 0; r < requests; ++r) {
                const std::string expected = letters(size, r, 'A') + "\n";
                if (replies.compare(at, expected.size(), expected) == 0) ++outcome.intact;
                at += expected.size();
            }
            outcome.bye = replies.size() >= at && replies.substr(at) == "BYE\n";
            co_await writer;
            outcome.served = co_await server;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->reply_bytes == requests * (size + 1) + 4);
        CHECK(outcome->intact == requests);
        CHECK(outcome->bye);
        CHECK(outcome->served.requests == requests + 1);
        CHECK(outcome->served.ending == ex::Ending::quit);
    }

    TEST_CASE(
        "a line longer than the limit is answered with an error, then the connection closes") {
        struct Outcome {
            std::string replies;
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(1);
            TcpStream client = co_await connect(server.address);
            // "UPPER " and 4090 letters: exactly ex::max_line_length, answered. Then 5006 bytes.
            co_await client.write_all("UPPER " + letters(4090, 0, 'a') + "\n");
            co_await client.write_all("UPPER " + std::string(5000, 'y') + "\nSUM 1 1\n");
            Outcome outcome;
            outcome.replies = co_await read_to_end(client);
            outcome.served = co_await server.served;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->replies == letters(4090, 0, 'A') + "\nERR line too long\n");
        REQUIRE(outcome->served.size() == 1);
        CHECK(outcome->served[0].requests == 1);
        CHECK(outcome->served[0].ending == ex::Ending::too_long);
    }

    TEST_CASE("an endless line is refused while it is still coming") {
        struct Outcome {
            std::string replies;
            Flood flood;
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(1);
            TcpStream client = co_await connect(server.address);
            rt::JoinHandle<Flood> writer = rt::spawn(flood(client, "UPPER "));
            Outcome outcome;
            outcome.replies = co_await read_to_end(client);
            outcome.flood = co_await writer;
            outcome.served = co_await server.served;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->replies == "ERR line too long\n");
        CHECK(outcome->flood.stopped);  // the server closed long before 64 MiB
        REQUIRE(outcome->served.size() == 1);
        CHECK(outcome->served[0].ending == ex::Ending::too_long);
    }

    TEST_CASE("clients that leave mid-line end their own connection, and the others are served") {
        struct Outcome {
            std::string stays_first;
            std::string leaves_first;
            std::string stays_rest;
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(3);
            TcpStream leaves = co_await connect(server.address);  // accepted first
            TcpStream resets = co_await connect(server.address);  // second
            TcpStream stays = co_await connect(server.address);   // third
            Outcome outcome;
            co_await stays.write_all(std::string_view("REVERSE ab\n"));
            outcome.stays_first = co_await read_lines(stays, 1);
            co_await leaves.write_all(std::string_view("UPPER a\n"));
            outcome.leaves_first = co_await read_lines(leaves, 1);
            co_await leaves.write_all(std::string_view("UPPER hal"));  // and gone, mid-line
            { TcpStream gone = std::move(leaves); }
            co_await write_then_reset(std::move(resets), "SUM 1");  // gone with a reset
            co_await stays.write_all(std::string_view("SUM 2 2\nQUIT\n"));
            outcome.stays_rest = co_await read_to_end(stays);
            outcome.served = co_await server.served;  // no exception came out of any of them
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->stays_first == "ba\n");
        CHECK(outcome->leaves_first == "A\n");
        CHECK(outcome->stays_rest == "4\nBYE\n");
        REQUIRE(outcome->served.size() == 3);
        CHECK(outcome->served[0].requests == 1);
        CHECK(outcome->served[0].ending == ex::Ending::closed_mid_line);
        CHECK(outcome->served[1].requests == 0);
        CHECK(outcome->served[1].ending == ex::Ending::failed);
        CHECK(outcome->served[1].error.find("reset") != std::string::npos);
        CHECK(outcome->served[2].requests == 3);
        CHECK(outcome->served[2].ending == ex::Ending::quit);
    }

    TEST_CASE("a hundred clients at once each get their own replies, in order") {
        constexpr int clients = 100;
        constexpr int requests = 10;
        struct Outcome {
            int right = 0;   // replies that were the expected ones
            int closed = 0;  // clients whose stream ended after BYE
            std::vector<ex::Served> served;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Server server = start_server(clients);
            std::vector<rt::JoinHandle<std::pair<int, bool>>> handles;
            for (int id = 0; id < clients; ++id) {
                handles.push_back(
                    rt::spawn([](SocketAddress address, int id) -> rt::Task<std::pair<int, bool>> {
                        TcpStream stream = co_await connect(address);
                        int right = 0;
                        for (int r = 0; r < requests; ++r) {
                            const std::string request =
                                "SUM " + std::to_string(id) + " " + std::to_string(r) + "\n";
                            co_await write_in_pieces(stream, request, 4);  // pieces, to mix them up
                            const std::string reply = co_await read_lines(stream, 1);
                            if (reply == std::to_string(id + r) + "\n") ++right;
                        }
                        co_await stream.write_all(std::string_view("QUIT\n"));
                        const std::string rest = co_await read_to_end(stream);
                        co_return std::pair(right, rest == "BYE\n");
                    }(server.address, id)));
            }
            Outcome outcome;
            for (auto& handle : handles) {
                const auto [right, closed] = co_await handle;
                outcome.right += right;
                if (closed) ++outcome.closed;
            }
            outcome.served = co_await server.served;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->right == clients * requests);
        CHECK(outcome->closed == clients);
        REQUIRE(outcome->served.size() == static_cast<std::size_t>(clients));
        int quit = 0;
        for (const ex::Served& served : outcome->served) {
            if (served.ending == ex::Ending::quit && served.requests == requests + 1) ++quit;
        }
        CHECK(quit == clients);
    }
}
