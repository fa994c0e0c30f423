// Tests of the HTTP server's graceful shutdown (http::serve_until, http/server.hpp): once its
// stop comes, the server refuses new connections, closes its idle ones, answers a request whose
// head had begun to arrive and then closes that connection too, abandons a connection still
// busy at shutdown_timeout, reports what it did, and leaves no descriptor open. Ctrl-C stops it
// as well. Each test runs on the single-threaded runtime and on two workers.
//
// Clients and server share one runtime. Every wait of a client is bounded by
// testing::patience() and fails the test with a message, never hangs it. No verdict depends on
// speed: a connection the test calls busy has the start of its next request in the same read
// as a complete one (one write, so the server reads them together), so the server knows it is
// busy before the test sees the first response; and a connection that must be abandoned can
// never finish, however long the shutdown waits.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "http/server.hpp"
#include "rt/coroutine.hpp"
#include "rt/deadline.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/signal/ctrl_c.hpp"
#include "rt/sync/event.hpp"
#include "rt/timeout.hpp"
#include "testing/descriptors.hpp"
#include "testing/eventually.hpp"

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;
using namespace std::chrono_literals;

namespace {

/// Timeouts no test reaches, shutdown_timeout included: the server waits for its clients.
constexpr http::Options patient{.header_timeout = 1h, .idle_timeout = 1h, .shutdown_timeout = 1h};

/// A request as wrk sends it, and the start of one more.
constexpr std::string_view request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
constexpr std::string_view next_head_start = "GET / HTTP/1.1\r\n";
constexpr std::string_view next_head_rest = "Host: 127.0.0.1\r\n\r\n";

/// How a client's connection ended.
struct Ending {
    std::string bytes;   // everything that came before the end
    bool ended = false;  // the server ended the stream (end of stream)
    bool reset = false;  // the connection was reset
    // Neither: nothing ended it within testing::patience().
};

/// Read until the server ends the connection, for at most testing::patience().
rt::Task<Ending> read_to_end(TcpStream& stream) {
    Ending ending;
    std::array<char, 4096> buffer{};
    const rt::Clock::time_point give_up = rt::deadline_after(testing::patience());
    for (;;) {
        try {
            auto read = rt::timeout_at(give_up, stream.read(buffer));
            const std::optional<std::size_t> got = co_await read;
            if (!got) co_return ending;
            if (*got == 0) {
                ending.ended = true;
                co_return ending;
            }
            ending.bytes.append(buffer.data(), *got);
        } catch (const std::system_error& error) {
            if (error.code() != std::errc::connection_reset) throw;
            ending.reset = true;
            co_return ending;
        }
    }
}

/// Read exactly one response, for at most testing::patience(); what came, or less if it did
/// not come in time.
rt::Task<std::string> read_response(TcpStream& stream) {
    std::string bytes(http::response.size(), '\0');
    auto read = rt::timeout(testing::patience(), stream.read_exact(bytes));
    const bool complete = co_await read;
    if (!complete) bytes.clear();
    co_return bytes;
}

/// Connect and send `bytes` in one write.
rt::Task<TcpStream> connect_and_send(SocketAddress address, std::string bytes) {
    auto connecting = TcpStream::connect(address);
    TcpStream stream = co_await connecting;
    auto sending = stream.write_all(bytes);
    co_await sending;
    co_return stream;
}

/// A server's report, or nothing if it did not return within testing::patience().
rt::Task<std::optional<http::ShutdownReport>> report_of(
    rt::JoinHandle<http::ShutdownReport> server) {
    auto waiting = rt::timeout(testing::patience(), std::move(server));
    co_return co_await waiting;
}

/// True if a connection to `address` is refused.
rt::Task<bool> refused(SocketAddress address) {
    try {
        auto connecting = TcpStream::connect(address);
        TcpStream stream = co_await connecting;
    } catch (const std::system_error& error) {
        co_return error.code() == std::errc::connection_refused;
    }
    co_return false;
}

/// The server under test, stopped by `stop`'s Event.
struct Served {
    SocketAddress address;
    rt::JoinHandle<http::ShutdownReport> server;
};
Served start(rt::sync::Event& stop, http::Options options) {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    const SocketAddress address = listener.local_address();
    return {address, rt::spawn(http::serve_until(std::move(listener), stop.wait(), options))};
}

}  // namespace

TEST_CASE("a stopped server closes its idle connections and refuses new ones") {
    for (std::size_t workers : {0, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on([]() -> rt::Task<void> {
            rt::sync::Event stop;
            Served served = start(stop, patient);
            std::vector<TcpStream> clients;
            for (int i = 0; i < 3; ++i) {
                auto connecting = connect_and_send(served.address, std::string(request));
                TcpStream client = co_await connecting;
                clients.push_back(std::move(client));
                auto reading = read_response(clients.back());
                const std::string response = co_await reading;
                CHECK_MESSAGE(response == http::response, "no response before the stop");
            }
            stop.set();
            for (TcpStream& client : clients) {
                auto end = read_to_end(client);
                const Ending ending = co_await end;
                CHECK_MESSAGE(ending.ended, "an idle connection was not closed at the stop");
                CHECK(ending.bytes.empty());
            }
            clients.clear();  // a connection that happened to close the lingering way ends now
            auto reporting = report_of(std::move(served.server));
            const std::optional<http::ShutdownReport> report = co_await reporting;
            REQUIRE_MESSAGE(report, "the server did not return after its connections closed");
            CHECK(report->open == 3);
            CHECK(report->abandoned == 0);
            auto refusal = refused(served.address);
            const bool was_refused = co_await refusal;
            CHECK_MESSAGE(was_refused, "a stopped server still accepts connections");
        }());
    }
}

TEST_CASE("a request whose head had begun at the stop is answered, then its connection closes") {
    for (std::size_t workers : {0, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on([]() -> rt::Task<void> {
            rt::sync::Event stop;
            Served served = start(stop, patient);
            auto connecting = connect_and_send(served.address,
                                               std::string(request) + std::string(next_head_start));
            TcpStream client = co_await connecting;
            auto reading = read_response(client);
            const std::string first = co_await reading;
            CHECK(first == http::response);  // so the server has read the next head's start too
            stop.set();
            auto rest = client.write_all(next_head_rest);
            co_await rest;
            auto end = read_to_end(client);
            const Ending ending = co_await end;
            CHECK_MESSAGE(ending.bytes == http::response, "the request in progress got no answer");
            CHECK_MESSAGE(ending.ended, "the connection was not closed after its answer");
            { const TcpStream closed = std::move(client); }  // the server's lingering read ends
            auto reporting = report_of(std::move(served.server));
            const std::optional<http::ShutdownReport> report = co_await reporting;
            REQUIRE_MESSAGE(report, "the server did not return after its connection closed");
            CHECK(report->open == 1);
            CHECK(report->abandoned == 0);
        }());
    }
}

TEST_CASE("a connection still busy at the shutdown timeout is abandoned, and nothing leaks") {
    for (std::size_t workers : {0, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on([]() -> rt::Task<void> {
            const testing::DescriptorSnapshot before;
            rt::sync::Event stop;
            http::Options options = patient;
            options.shutdown_timeout = 50ms;  // the busy client never finishes: any time will do
            Served served = start(stop, options);
            // One client idle, one busy for ever: it sent the start of a head, never the rest.
            auto connecting_idle = connect_and_send(served.address, std::string(request));
            TcpStream idle = co_await connecting_idle;
            auto connecting_busy = connect_and_send(
                served.address, std::string(request) + std::string(next_head_start));
            TcpStream busy = co_await connecting_busy;
            auto reading_idle = read_response(idle);
            const std::string idle_response = co_await reading_idle;
            CHECK(idle_response == http::response);
            auto reading_busy = read_response(busy);
            const std::string busy_response = co_await reading_busy;
            CHECK(busy_response == http::response);
            stop.set();
            auto reporting = report_of(std::move(served.server));
            const std::optional<http::ShutdownReport> report = co_await reporting;
            REQUIRE_MESSAGE(report, "the server did not return after abandoning its connection");
            CHECK(report->open == 2);
            // The busy one is abandoned, always: it can never finish. The idle one closes as
            // soon as its task runs after the stop, which on a loaded machine may be later than
            // 50 ms: then it is abandoned too, and closed all the same (below). Which of the
            // two happened depends on speed alone, so both are accepted; the test before this
            // one shows idle connections closing at the stop with nothing abandoned.
            CHECK(report->abandoned >= 1);
            CHECK(report->abandoned <= 2);
            auto idle_end = read_to_end(idle);
            const Ending idle_ending = co_await idle_end;
            CHECK(idle_ending.ended);
            auto busy_end = read_to_end(busy);
            const Ending busy_ending = co_await busy_end;
            CHECK_MESSAGE((busy_ending.ended || busy_ending.reset),
                          "the abandoned connection's socket is still open");
            CHECK(busy_ending.bytes.empty());
            { const TcpStream closed_idle = std::move(idle), closed_busy = std::move(busy); }
            // The listener, both connections' sockets, the spare descriptor: all closed.
            CHECK_MESSAGE(before.opened_since().empty(), "the server left descriptors open");
        }());
    }
}

TEST_CASE("Ctrl-C stops a server gracefully") {
    for (std::size_t workers : {0, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on([]() -> rt::Task<void> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            const SocketAddress address = listener.local_address();
            // Made before the signal is raised: from here on SIGINT no longer ends the process.
            rt::signal::CtrlC ctrl_c = rt::signal::ctrl_c();
            auto server =
                rt::spawn(http::serve_until(std::move(listener), std::move(ctrl_c), patient));
            auto connecting = connect_and_send(address, std::string(request));
            TcpStream client = co_await connecting;
            auto reading = read_response(client);
            const std::string response = co_await reading;
            CHECK(response == http::response);
            std::raise(SIGINT);
            auto end = read_to_end(client);
            const Ending ending = co_await end;
            CHECK_MESSAGE(ending.ended, "Ctrl-C did not close the idle connection");
            { const TcpStream closed = std::move(client); }
            auto reporting = report_of(std::move(server));
            const std::optional<http::ShutdownReport> report = co_await reporting;
            REQUIRE_MESSAGE(report, "the server did not return after Ctrl-C");
            CHECK(report->open == 1);
            CHECK(report->abandoned == 0);
        }());
    }
}
