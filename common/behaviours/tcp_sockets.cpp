// Behaviours of every stage with TCP sockets (chapter 5 on), TcpListener and TcpStream over
// loopback: data arrives intact through partial reads and writes, the end of a stream and a
// reset are outcomes (a value or an exception), never a crash, and shutting the runtime down
// closes every descriptor it opened.
#include <doctest/doctest.h>

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <numeric>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "testing/descriptors.hpp"
#include "testing/eventually.hpp"
#include "testing/printing.hpp"

using namespace std::chrono_literals;
using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

namespace {

/// Bytes 0, 1, 2, ... 255, 0, 1, ... : a pattern in which a lost, repeated or reordered
/// chunk shows.
std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>(i % 251);
    return bytes;
}

/// Echo every byte back until the peer closes its side, then close ours.
rt::Task<void> echo(TcpStream stream) {
    std::vector<char> buffer(4096);
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) break;
        co_await stream.write_all(std::span(buffer.data(), got));
    }
    stream.shutdown_write();
}

/// Accept one connection and echo it.
rt::Task<void> echo_one(TcpListener& listener) { co_await echo(co_await listener.accept()); }

/// Shrink a socket's kernel buffers, so that large transfers go in many partial steps.
void small_buffers(const TcpStream& stream) {
    const int size = 16384;
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    ::setsockopt(stream.native_handle(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

}  // namespace

TEST_SUITE("tcp") {
    TEST_CASE("urgent data does not leave a reader waiting for bytes that are already there") {
        // The peer sends "abc", one byte of urgent (out-of-band) data, then "def", and keeps
        // the connection open. recv stops short at the urgent mark with "def" queued behind
        // it, and no new edge will come for it: a reader that took the short read for "all
        // there is" would wait until the peer sent again. The peer waits (bounded) for the
        // reader; if it has to give up, it closes, which lets the reader finish and the test
        // fail with a message instead of hanging.
        std::atomic<bool> peer_sent{false};
        std::atomic<bool> reader_done{false};
        std::atomic<bool> peer_gave_up{false};
        std::jthread peer;
        const std::string got = rt::block_on([&]() -> rt::Task<std::string> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            peer = std::jthread(
                [address = listener.local_address(), &peer_sent, &reader_done, &peer_gave_up] {
                    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                    CHECK(fd >= 0);  // CHECK, not REQUIRE: this is not the test's thread
                    CHECK(::connect(fd, address.get(), address.length()) == 0);
                    CHECK(::send(fd, "abc", 3, MSG_NOSIGNAL) == 3);
                    CHECK(::send(fd, "!", 1, MSG_OOB | MSG_NOSIGNAL) == 1);
                    CHECK(::send(fd, "def", 3, MSG_NOSIGNAL) == 3);
                    peer_sent = true;
                    if (!testing::eventually([&] { return reader_done.load(); })) {
                        peer_gave_up = true;
                    }
                    ::close(fd);
                });
            TcpStream stream = co_await listener.accept();
            // The first read must find all of it there, the mark in the middle: wait for the
            // peer (blocking this thread: no other task needs it meanwhile).
            REQUIRE_MESSAGE(testing::eventually([&] { return peer_sent.load(); }),
                            "the peer did not send within the test's patience");
            std::string received(6, '\0');  // the urgent byte is not inline: "abcdef"
            co_await stream.read_exact(received);
            reader_done = true;
            co_return received;
        });
        peer.join();
        CHECK_MESSAGE(!peer_gave_up, "the reader stalled at the urgent mark");
        CHECK(got == "abcdef");
    }

    TEST_CASE("a message comes back intact from an echo server") {
        const std::string message = "hello, reactor";
        const std::string reply = rt::block_on([message]() -> rt::Task<std::string> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn(echo_one(listener));
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            co_await client.write_all(message);
            std::string back(message.size(), '\0');
            co_await client.read_exact(back);
            co_return back;
        });
        CHECK(reply == message);
    }

    TEST_CASE("a megabyte goes through small socket buffers in partial reads and writes") {
        const std::string sent = pattern(1 << 20);
        const std::string received = rt::block_on([&sent]() -> rt::Task<std::string> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn(echo_one(listener));
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            small_buffers(client);
            // Write and read at the same time, or both sides' buffers fill and stop.
            rt::JoinHandle<void> writer = rt::spawn([&client, &sent]() -> rt::Task<void> {
                co_await client.write_all(sent);
                client.shutdown_write();
            });
            std::string back;
            std::vector<char> buffer(1000);
            std::size_t reads = 0;
            for (;;) {
                const std::size_t got = co_await client.read(buffer);
                if (got == 0) break;
                ++reads;
                back.append(buffer.data(), got);
            }
            co_await writer;
            CHECK(reads > 100);  // it really came in pieces
            co_return back;
        });
        CHECK(received.size() == sent.size());
        CHECK(received == sent);
    }

    TEST_CASE("a read after the peer closed its side answers 0") {
        const std::size_t got = rt::block_on([]() -> rt::Task<std::size_t> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn([&listener]() -> rt::Task<void> {
                TcpStream server = co_await listener.accept();
                server.shutdown_write();
                co_await rt::sleep(50ms);  // keep the socket open: only its write side ended
            });
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            char byte = 0;
            co_return co_await client.read(std::span(&byte, 1));
        });
        CHECK(got == 0);
    }

    TEST_CASE("read_exact throws UnexpectedEof when the stream ends early") {
        auto run = []() -> rt::Task<void> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn([&listener]() -> rt::Task<void> {
                TcpStream server = co_await listener.accept();
                co_await server.write_all(std::string_view("abc"));
            });  // the server's stream closes at the end of its task
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            std::string buffer(10, '\0');
            co_await client.read_exact(buffer);
        };
        CHECK_THROWS_WITH_AS(rt::block_on(run),
                             "the stream ended 7 bytes before the end of the message",
                             rt::net::UnexpectedEof);
    }

    TEST_CASE("a connection reset by the peer is an exception with ECONNRESET, not a crash") {
        auto run = []() -> rt::Task<void> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn([&listener]() -> rt::Task<void> {
                TcpStream server = co_await listener.accept();
                const linger abort_on_close{1, 0};  // close sends RST instead of FIN
                ::setsockopt(server.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close,
                             sizeof abort_on_close);
            });
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            std::vector<char> buffer(16);
            co_await client.read(buffer);  // waits until the reset arrives
        };
        try {
            rt::block_on(run);
            FAIL("the read after a reset did not throw");
        } catch (const std::system_error& error) {
            CHECK(error.code().value() == ECONNRESET);
        }
    }

    TEST_CASE(
        "writing to a peer that is gone throws EPIPE or ECONNRESET, and no SIGPIPE kills us") {
        auto run = []() -> rt::Task<void> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            rt::spawn([&listener]() -> rt::Task<void> { co_await listener.accept(); });
            TcpStream client = co_await TcpStream::connect(listener.local_address());
            co_await rt::sleep(20ms);  // the server has accepted and closed
            const std::string chunk(65536, 'x');
            for (int i = 0; i < 1000; ++i) co_await client.write_all(chunk);
        };
        try {
            rt::block_on(run);
            FAIL("writing to a closed peer never failed");
        } catch (const std::system_error& error) {
            const int code = error.code().value();
            CHECK((code == EPIPE || code == ECONNRESET));
        }
    }

    TEST_CASE("connecting to a port nobody listens on throws ECONNREFUSED") {
        auto run = []() -> rt::Task<void> {
            // Bind a port, then close it: nobody listens there now.
            const SocketAddress address = [] {
                TcpListener listener = TcpListener::bind("127.0.0.1:0");
                return listener.local_address();
            }();
            co_await TcpStream::connect(address);
        };
        try {
            rt::block_on(run);
            FAIL("the connection succeeded");
        } catch (const std::system_error& error) {
            CHECK(error.code().value() == ECONNREFUSED);
            CHECK(std::string(error.what()).find("connect to 127.0.0.1:") != std::string::npos);
        }
    }

    TEST_CASE("a bad address is refused with a message that quotes it") {
        CHECK_THROWS_WITH_AS(SocketAddress::parse("localhost"),
                             "bad socket address 'localhost': no ':port'", std::invalid_argument);
        CHECK_THROWS_AS(SocketAddress::parse("127.0.0.1:99999"), std::invalid_argument);
        CHECK_THROWS_AS(SocketAddress::parse("300.0.0.1:80"), std::invalid_argument);
        CHECK(SocketAddress::parse("[::1]:8080").to_string() == "[::1]:8080");
        CHECK(SocketAddress::parse("10.0.0.1:80").port() == 80);
    }

    TEST_CASE("binding a port in use throws EADDRINUSE") {
        auto run = []() -> rt::Task<void> {
            TcpListener first = TcpListener::bind("127.0.0.1:0");
            TcpListener second = TcpListener::bind(first.local_address());
            co_return;
        };
        try {
            rt::block_on(run);
            FAIL("two listeners bound one port");
        } catch (const std::system_error& error) {
            CHECK(error.code().value() == EADDRINUSE);
        }
    }

    TEST_CASE("a runtime shut down with connections open and tasks waiting leaks no descriptor") {
        const testing::DescriptorSnapshot before;
        int accepted = 0;   // connections the listener accepted
        int connected = 0;  // clients that connected and wrote
        {
            rt::Executor executor;
            executor.block_on([&accepted, &connected]() -> rt::Task<void> {
                TcpListener listener = TcpListener::bind("127.0.0.1:0");
                const SocketAddress address = listener.local_address();
                rt::spawn([listener = std::move(listener), &accepted]() mutable -> rt::Task<void> {
                    std::vector<rt::JoinHandle<void>> echoes;
                    for (;;) {
                        echoes.push_back(rt::spawn(echo(co_await listener.accept())));
                        ++accepted;
                    }
                });
                for (int i = 0; i < 10; ++i) {
                    rt::spawn([address, &connected]() -> rt::Task<void> {
                        TcpStream client = co_await TcpStream::connect(address);
                        co_await client.write_all(std::string_view("waiting"));
                        ++connected;
                        std::vector<char> buffer(100);
                        for (;;) co_await client.read(buffer);  // never ends by itself
                    });
                }
                rt::spawn([]() -> rt::Task<void> { co_await rt::sleep(1h); });
                // Until every connection is up (a bound on turns, not on time).
                for (int turn = 0; turn < 1'000'000 && (accepted < 10 || connected < 10); ++turn) {
                    co_await rt::yield_now();
                }
            });
            REQUIRE_MESSAGE(accepted == 10, "the listener did not accept all 10 clients");
            REQUIRE_MESSAGE(connected == 10, "not all 10 clients connected and wrote");
            CHECK(executor.pending_tasks() == 22);  // listener, 10 clients, 10 echoes, sleeper
            // epoll, eventfd, listener, 10 clients, 10 accepted (chapter 5's timer thread
            // opens none).
            CHECK(before.opened_since().size() >= 23);
        }
        CHECK(before.opened_since() == std::vector<std::string>{});
    }
}
