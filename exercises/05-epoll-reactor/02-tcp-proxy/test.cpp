// Tests of exercise 05-02, the specification of ex::try_join, ex::copy and ex::proxy: try_join
// runs two tasks inside one and destroys the other at the first exception; copy moves every byte
// and then passes the end of the stream on; the proxy, over real sockets on 127.0.0.1, carries
// bytes both ways at once, passes each direction's end on while the other goes on (half-close),
// and closes both sides when either fails, reporting what happened without throwing. Every test
// ends on its own, even against the starter: try_join is polled by hand, and a socket test that
// waits for testing::patience() (20 s) with nothing happening gives up with a message
// (testing::block_on_patient, common/include/testing/patient.hpp). No verdict depends on how
// long anything took.
#include <doctest/doctest.h>

#include <proxy.hpp>
#include <try_join.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <concepts>
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
#include "rt/future.hpp"
#include "rt/join_handle.hpp"
#include "rt/net/socket_address.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/waker.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/lifetimes.hpp"
#include "testing/patient.hpp"
#include "testing/printing.hpp"
#include "testing/wakers.hpp"

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;
using testing::DestructionCounter;
namespace oneshot = rt::sync::oneshot;

namespace {

static_assert(rt::Future<ex::TryJoin>);
static_assert(std::same_as<ex::TryJoin::Output, void>);

constexpr char stuck[] =
    "the test gave up after 20 s in which nothing woke it (testing::patience()): a task waited "
    "for bytes or for an end of stream that never came (bytes not copied, an end of stream not "
    "passed on, a connection never closed), or a wake was lost";

/// Yields `yields` times, then notes its name in `finished`.
rt::Task<void> after_yields(int yields, std::string name, std::vector<std::string>& finished) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    finished.push_back(std::move(name));
}

/// Waits for a value on the channel, then notes its name in `finished`.
rt::Task<void> when_sent(oneshot::Receiver<int> receiver, std::string name,
                         std::vector<std::string>& finished) {
    co_await std::move(receiver);
    finished.push_back(std::move(name));
}

/// Yields once, then throws.
rt::Task<void> fails_later() {
    co_await rt::yield_now();
    throw std::runtime_error("a copy failed");
}

/// Waits on a channel nobody sends on, with a local that counts its destruction.
rt::Task<void> waits_forever(std::shared_ptr<int> destroyed, oneshot::Receiver<int> never) {
    DestructionCounter local(std::move(destroyed));
    co_await std::move(never);
}

// ---- sockets -------------------------------------------------------------------------------

/// Bytes 0, 1, 2, ... 250, 0, 1, ...: a pattern in which a lost, repeated or reordered chunk
/// shows.
std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 251);
    return bytes;
}

rt::Task<TcpStream> connect(SocketAddress address) {
    TcpStream stream = co_await TcpStream::connect(address);
    stream.set_nodelay(true);
    co_return stream;
}

/// A connected pair over loopback: the client's end, and the server's.
struct Pair {
    TcpStream client;
    TcpStream server;
};

rt::Task<Pair> connected_pair() {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    TcpStream client = co_await connect(listener.local_address());
    TcpStream server = co_await listener.accept();
    co_return Pair{std::move(client), std::move(server)};
}

/// Everything read until the stream ends. A reset counts as an end, after the bytes before it.
rt::Task<std::string> read_to_end(TcpStream& stream) {
    std::string bytes;
    std::vector<char> buffer(16 * 1024);
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

/// The same, on a stream the task owns.
rt::Task<std::string> read_to_end_owned(TcpStream stream) {
    co_return co_await read_to_end(stream);
}

/// Read `size` bytes, or fewer if the stream ends first (read_exact would throw).
rt::Task<std::string> read_up_to(TcpStream& stream, std::size_t size) {
    std::string bytes(size, '\0');
    std::size_t filled = 0;
    try {
        while (filled < size) {
            const std::size_t got =
                co_await stream.read(std::span(bytes.data() + filled, size - filled));
            if (got == 0) break;
            filled += got;
        }
    } catch (const std::system_error&) {
    }
    bytes.resize(filled);
    co_return bytes;
}

/// Write all of `text`; false if the write failed (the other side is gone).
rt::Task<bool> send(TcpStream& stream, std::string_view text) {
    try {
        co_await stream.write_all(text);
        co_return true;
    } catch (const std::system_error&) {
        co_return false;
    }
}

/// Shut the write side down; false if the connection is gone already.
bool end_writes(TcpStream& stream) {
    try {
        stream.shutdown_write();
        return true;
    } catch (const std::system_error&) {
        return false;
    }
}

/// Own `stream`, write `text`, then reset the connection (SO_LINGER 0: close sends RST).
rt::Task<void> write_then_reset(TcpStream stream, std::string text) {
    co_await send(stream, text);
    for (int i = 0; i < 10; ++i) co_await rt::yield_now();
    const linger abort_on_close{1, 0};
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                 sizeof abort_on_close);
}

/// Own `stream`, write `text`, then close it.
rt::Task<void> write_then_close(TcpStream stream, std::string text) { co_await send(stream, text); }

/// Writing to `stream` fails at once with EPIPE: its write side was shut down.
bool write_side_is_shut(const TcpStream& stream) {
    const char byte = 'x';
    const ssize_t sent = ::send(stream.native_handle(), &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent < 0 && errno == EPIPE;
}

// ---- upstream servers: each accepts one connection ------------------------------------------

/// Echo every byte until the client's end of stream, then end ours. Gives the bytes echoed.
rt::Task<std::size_t> echo_upstream(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    std::vector<char> buffer(16 * 1024);
    std::size_t echoed = 0;
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) break;
        co_await stream.write_all(std::span<const char>(buffer.data(), got));
        echoed += got;
    }
    stream.shutdown_write();
    co_return echoed;
}

constexpr std::string_view banner = "220 upstream ready\r\n";

/// Say hello first, before the client says anything; then echo, as echo_upstream does.
rt::Task<std::size_t> banner_upstream(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    co_await stream.write_all(banner);
    std::vector<char> buffer(16 * 1024);
    std::size_t echoed = 0;
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) break;
        co_await stream.write_all(std::span<const char>(buffer.data(), got));
        echoed += got;
    }
    stream.shutdown_write();
    co_return echoed;
}

constexpr std::size_t answer_size = 1 << 20;

/// Read the whole request, up to the client's end of stream; only then answer, with a megabyte,
/// and close. Gives the request's size.
rt::Task<std::size_t> answers_after_the_end(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    const std::string request = co_await read_to_end(stream);
    co_await stream.write_all(pattern(answer_size));
    co_return request.size();
}

/// Say "bye" and end our side first; then read what the client still sends, to its end.
rt::Task<std::string> ends_first(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    co_await stream.write_all(std::string_view("bye\n"));
    stream.shutdown_write();
    co_return co_await read_to_end(stream);
}

/// Read "hello", answer "partial", then reset the connection.
rt::Task<std::string> resets_mid_stream(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    const std::string got = co_await read_up_to(stream, 5);
    co_await write_then_reset(std::move(stream), "partial");
    co_return got;
}

/// Say "ready", then read everything the client sends until the stream ends (or is reset).
rt::Task<std::string> ready_then_reads(TcpListener listener) {
    TcpStream stream = co_await listener.accept();
    co_await stream.write_all(std::string_view("ready\n"));
    co_return co_await read_to_end(stream);
}

/// An upstream server on a free port, accepting one connection in a task of its own.
template <class T>
struct Upstream {
    SocketAddress address;
    rt::JoinHandle<T> done;  // what the server's task gives
};

template <class T>
Upstream<T> start_upstream(rt::Task<T> (*server)(TcpListener)) {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    const SocketAddress address = listener.local_address();
    return Upstream<T>{address, rt::spawn(server(std::move(listener)))};
}

/// Accept one client and proxy it to `upstream`.
rt::Task<ex::ProxyReport> proxy_one(TcpListener listener, SocketAddress upstream) {
    co_return co_await ex::proxy(co_await listener.accept(), upstream);
}

/// A proxy on a free port, for one client, in a task of its own.
struct Proxy {
    SocketAddress address;
    rt::JoinHandle<ex::ProxyReport> report;
};

Proxy start_proxy(SocketAddress upstream) {
    TcpListener listener = TcpListener::bind("127.0.0.1:0");
    const SocketAddress address = listener.local_address();
    return Proxy{address, rt::spawn(proxy_one(std::move(listener), upstream))};
}

/// A port on 127.0.0.1 that nobody listens on, for as long as this object lives: a socket bound
/// to it, and never listening, holds it, so that no other program can take it meanwhile (as it
/// could a port bound and closed again), and a connection to it is refused.
class UnusedPort {
public:
    UnusedPort() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        sockaddr_in loopback{};
        loopback.sin_family = AF_INET;
        loopback.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        loopback.sin_port = 0;  // any free port
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        REQUIRE_MESSAGE(
            (fd_ >= 0 &&
             ::bind(fd_, reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) == 0 &&
             ::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &length) == 0),
            "could not reserve a port on 127.0.0.1");
        address_ = SocketAddress::of(bound, length);
    }
    UnusedPort(const UnusedPort&) = delete;
    UnusedPort& operator=(const UnusedPort&) = delete;
    ~UnusedPort() {
        if (fd_ >= 0) ::close(fd_);
    }

    SocketAddress address() const { return address_; }

private:
    int fd_;                 // bound, not listening
    SocketAddress address_;  // its address
};

}  // namespace

TEST_SUITE("try_join") {
    TEST_CASE("try_join is ready once both tasks have finished, whichever finishes first") {
        for (const bool first_is_quicker : {true, false}) {
            CAPTURE(first_is_quicker);
            std::vector<std::string> finished;
            ex::TryJoin join = ex::try_join(after_yields(first_is_quicker ? 1 : 3, "a", finished),
                                            after_yields(first_is_quicker ? 3 : 1, "b", finished));
            testing::CountingWaker waker;
            std::vector<bool> ready;  // each poll's answer
            for (int poll = 0; poll < 4; ++poll) {
                ready.push_back(testing::poll_once(join, waker.waker()).is_ready());
            }
            CHECK(ready == std::vector<bool>{false, false, false, true});
            CHECK(finished == (first_is_quicker ? std::vector<std::string>{"a", "b"}
                                                : std::vector<std::string>{"b", "a"}));
            CHECK(waker.wakes() == 4);  // one per yield, of either task: the waker reached both
        }
    }

    TEST_CASE("an event of either task wakes the task that awaits try_join") {
        auto [first_sender, first_receiver] = oneshot::channel<int>();
        auto [second_sender, second_receiver] = oneshot::channel<int>();
        std::vector<std::string> finished;
        ex::TryJoin join = ex::try_join(when_sent(std::move(first_receiver), "a", finished),
                                        when_sent(std::move(second_receiver), "b", finished));
        testing::CountingWaker waker;
        CHECK(testing::poll_once(join, waker.waker()).is_pending());
        CHECK(waker.alive() == 2);  // each channel keeps a clone of the one waker
        std::move(second_sender).send(2);
        CHECK(waker.wakes() == 1);
        CHECK(testing::poll_once(join, waker.waker()).is_pending());  // the first still waits
        CHECK(finished == std::vector<std::string>{"b"});
        std::move(first_sender).send(1);
        CHECK(waker.wakes() == 2);
        CHECK(testing::poll_once(join, waker.waker()).is_ready());
        CHECK(finished == std::vector<std::string>{"b", "a"});
        CHECK(waker.alive() == 0);
    }

    TEST_CASE("a task's exception comes out of try_join, and the other task is destroyed at once") {
        for (const bool first_fails : {true, false}) {
            CAPTURE(first_fails);
            auto destroyed = std::make_shared<int>(0);
            auto [sender, receiver] = oneshot::channel<int>();  // never sent on
            ex::TryJoin join =
                first_fails
                    ? ex::try_join(fails_later(), waits_forever(destroyed, std::move(receiver)))
                    : ex::try_join(waits_forever(destroyed, std::move(receiver)), fails_later());
            testing::CountingWaker waker;
            CHECK(testing::poll_once(join, waker.waker()).is_pending());
            CHECK(*destroyed == 0);
            CHECK_THROWS_WITH_AS(static_cast<void>(testing::poll_once(join, waker.waker())),
                                 "a copy failed", std::runtime_error);
            CHECK(*destroyed == 1);     // destroyed by the poll that threw, not later
            CHECK(sender.is_closed());  // its receiver went with its frame
        }
    }
}

TEST_SUITE("copy") {
    TEST_CASE("copy moves every byte in order, then ends the destination's stream") {
        const std::string sent = pattern(300'000);
        struct Outcome {
            std::size_t copied = 0;
            bool shut = false;
            std::string received;
        };
        const std::optional<Outcome> outcome =
            testing::block_on_patient([](const std::string& sent) -> rt::Task<Outcome> {
                Pair source = co_await connected_pair();
                Pair destination = co_await connected_pair();
                rt::spawn(write_then_close(std::move(source.client), sent));
                rt::JoinHandle<std::string> reader =
                    rt::spawn(read_to_end_owned(std::move(destination.server)));
                Outcome outcome;
                co_await ex::copy(source.server, destination.client, outcome.copied);
                outcome.shut = write_side_is_shut(destination.client);
                { TcpStream closed = std::move(destination.client); }  // the reader ends either way
                outcome.received = co_await reader;
                co_return outcome;
            }(sent));
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->copied == sent.size());
        CHECK(outcome->shut);  // copy shut down its write side: a write now fails with EPIPE
        CHECK(outcome->received.size() == sent.size());
        CHECK(outcome->received == sent);
    }

    TEST_CASE("copy passes a failure on as an exception, with the bytes copied so far counted") {
        struct Outcome {
            std::size_t copied = 0;
            int error = 0;
            std::string received;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Pair source = co_await connected_pair();
            Pair destination = co_await connected_pair();
            rt::spawn(write_then_reset(std::move(source.client), "12345"));
            rt::JoinHandle<std::string> reader =
                rt::spawn(read_to_end_owned(std::move(destination.server)));
            Outcome outcome;
            try {
                co_await ex::copy(source.server, destination.client, outcome.copied);
            } catch (const std::system_error& error) {
                outcome.error = error.code().value();
            }
            { TcpStream closed = std::move(destination.client); }
            outcome.received = co_await reader;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->error == ECONNRESET);
        CHECK(outcome->copied == 5);
        CHECK(outcome->received == "12345");
    }
}

TEST_SUITE("proxy") {
    TEST_CASE("bytes go both ways through the proxy, intact, to an echo server") {
        struct Outcome {
            std::vector<std::string> echoes;
            std::string rest;
            ex::ProxyReport report;
            std::size_t echoed = 0;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::size_t> upstream = start_upstream(echo_upstream);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            for (const std::string_view message : {"hello", ", proxy", "! three messages"}) {
                co_await send(client, message);
                outcome.echoes.push_back(co_await read_up_to(client, message.size()));
            }
            end_writes(client);
            outcome.rest = co_await read_to_end(client);
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) outcome.echoed = co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->echoes == std::vector<std::string>{"hello", ", proxy", "! three messages"});
        CHECK(outcome->rest == "");  // then the end of the stream, passed on both ways
        CHECK(outcome->report.connected);
        CHECK(outcome->report.error == "");
        CHECK(outcome->report.client_to_upstream == 28);
        CHECK(outcome->report.upstream_to_client == 28);
        CHECK(outcome->echoed == 28);
    }

    TEST_CASE("a banner the upstream sends first reaches the client before it says anything") {
        struct Outcome {
            std::string banner;
            std::string echo;
            ex::ProxyReport report;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::size_t> upstream = start_upstream(banner_upstream);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            outcome.banner = co_await read_up_to(client, banner.size());
            co_await send(client, "EHLO test\r\n");
            end_writes(client);
            outcome.echo = co_await read_to_end(client);
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->banner == banner);
        CHECK(outcome->echo == "EHLO test\r\n");
        CHECK(outcome->report.error == "");
        CHECK(outcome->report.upstream_to_client == banner.size() + 11);
    }

    TEST_CASE("megabytes go both ways at once, intact, while the client writes and reads") {
        const std::string sent = pattern(4 << 20);
        struct Outcome {
            std::string received;
            bool wrote_all = false;
            ex::ProxyReport report;
        };
        const std::optional<Outcome> outcome =
            testing::block_on_patient([](const std::string& sent) -> rt::Task<Outcome> {
                Upstream<std::size_t> upstream = start_upstream(echo_upstream);
                Proxy proxy = start_proxy(upstream.address);
                TcpStream client = co_await connect(proxy.address);
                // Write and read at the same time: a client that wrote everything before reading
                // would stop, with every buffer on the way full.
                rt::JoinHandle<bool> writer =
                    rt::spawn([](TcpStream& client, const std::string& sent) -> rt::Task<bool> {
                        const bool wrote = co_await send(client, sent);
                        co_return wrote&& end_writes(client);
                    }(client, sent));
                Outcome outcome;
                outcome.received = co_await read_to_end(client);
                outcome.wrote_all = co_await writer;
                outcome.report = co_await proxy.report;
                if (outcome.report.connected) co_await upstream.done;
                co_return outcome;
            }(sent));
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->wrote_all);
        CHECK(outcome->received.size() == sent.size());
        CHECK(outcome->received == sent);
        CHECK(outcome->report.error == "");
        CHECK(outcome->report.client_to_upstream == sent.size());
        CHECK(outcome->report.upstream_to_client == sent.size());
    }

    TEST_CASE("a client that ends its side still receives everything the upstream sends after") {
        struct Outcome {
            std::string answer;
            ex::ProxyReport report;
            std::size_t request_size = 0;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::size_t> upstream = start_upstream(answers_after_the_end);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            co_await send(client, pattern(1000));
            end_writes(client);  // "that is my whole request": the upstream answers only now
            Outcome outcome;
            outcome.answer = co_await read_to_end(client);
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) outcome.request_size = co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->request_size == 1000);  // the upstream saw the request end
        CHECK(outcome->answer.size() == answer_size);
        CHECK(outcome->answer == pattern(answer_size));
        CHECK(outcome->report.error == "");
        CHECK(outcome->report.client_to_upstream == 1000);
        CHECK(outcome->report.upstream_to_client == answer_size);
    }

    TEST_CASE("an upstream that ends its side first still receives what the client sends after") {
        struct Outcome {
            std::string before_end;
            bool sent_after = false;
            ex::ProxyReport report;
            std::string upstream_got;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::string> upstream = start_upstream(ends_first);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            outcome.before_end = co_await read_to_end(client);  // "bye\n", then the end
            outcome.sent_after = co_await send(client, "still here\n") && end_writes(client);
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) outcome.upstream_got = co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->before_end == "bye\n");
        CHECK(outcome->sent_after);
        CHECK(outcome->upstream_got == "still here\n");
        CHECK(outcome->report.error == "");
        CHECK(outcome->report.client_to_upstream == 11);
        CHECK(outcome->report.upstream_to_client == 4);
    }

    TEST_CASE(
        "an upstream that refuses the connection: the client's stream ends, and the proxy "
        "reports why") {
        struct Outcome {
            std::string received;
            ex::ProxyReport report;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            const UnusedPort unused;
            Proxy proxy = start_proxy(unused.address());
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            outcome.received = co_await read_to_end(client);
            outcome.report = co_await proxy.report;  // a value: nothing was thrown out of proxy
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->received == "");
        CHECK_FALSE(outcome->report.connected);
        CHECK(outcome->report.error.find("Connection refused") != std::string::npos);
    }

    TEST_CASE("an upstream that resets mid-stream ends the client's stream too") {
        struct Outcome {
            std::string received;
            ex::ProxyReport report;
            std::string upstream_got;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::string> upstream = start_upstream(resets_mid_stream);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            co_await send(client, "hello");
            outcome.received = co_await read_to_end(client);  // "partial", then the end
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) outcome.upstream_got = co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->upstream_got == "hello");
        CHECK(outcome->received == "partial");
        CHECK(outcome->report.connected);
        CHECK(outcome->report.error.find("reset") != std::string::npos);
        CHECK(outcome->report.client_to_upstream == 5);
        CHECK(outcome->report.upstream_to_client == 7);
    }

    TEST_CASE("a client that resets mid-stream ends the upstream's stream too") {
        struct Outcome {
            std::string ready;
            ex::ProxyReport report;
            std::string upstream_got;
        };
        const std::optional<Outcome> outcome = testing::block_on_patient([]() -> rt::Task<Outcome> {
            Upstream<std::string> upstream = start_upstream(ready_then_reads);
            Proxy proxy = start_proxy(upstream.address);
            TcpStream client = co_await connect(proxy.address);
            Outcome outcome;
            outcome.ready = co_await read_up_to(client, 6);  // the proxy is copying both ways
            co_await write_then_reset(std::move(client), "abc");
            outcome.report = co_await proxy.report;
            if (outcome.report.connected) outcome.upstream_got = co_await upstream.done;
            co_return outcome;
        }());
        REQUIRE_MESSAGE(outcome.has_value(), stuck);
        CHECK(outcome->ready == "ready\n");
        CHECK(outcome->report.connected);
        CHECK(outcome->report.error.find("reset") != std::string::npos);
        CHECK(outcome->report.client_to_upstream == 3);
        CHECK(outcome->upstream_got == "abc");  // then its stream ended: the proxy closed it
    }
}
