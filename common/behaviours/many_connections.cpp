// A behaviour of every stage with TCP sockets (chapter 5 on): a thousand connections at once
// on one thread, every client sending its messages through the echo server and checking
// every byte that comes back.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "support/descriptors.hpp"

using rt::net::SocketAddress;
using rt::net::TcpListener;
using rt::net::TcpStream;

namespace {

rt::Task<void> echo(TcpStream stream) {
    std::vector<char> buffer(1024);
    for (;;) {
        const std::size_t got = co_await stream.read(buffer);
        if (got == 0) co_return;
        co_await stream.write_all(std::span(buffer.data(), got));
    }
}

/// Send `messages` messages of `size` bytes, each different, and read each back. Returns the
/// number of messages that came back intact.
rt::Task<int> client(SocketAddress address, int id, int messages, std::size_t size) {
    TcpStream stream = co_await TcpStream::connect(address);
    std::string sent(size, '\0');
    std::string back(size, '\0');
    int intact = 0;
    for (int m = 0; m < messages; ++m) {
        for (std::size_t i = 0; i < size; ++i)
            sent[i] = static_cast<char>((id * 31 + m * 7 + i) % 256);
        co_await stream.write_all(sent);
        co_await stream.read_exact(back);
        if (back == sent) ++intact;
    }
    co_return intact;
}

}  // namespace

TEST_SUITE("many connections") {
    TEST_CASE("a thousand concurrent connections echo every message intact") {
        constexpr int connections = 1000;
        constexpr int messages = 5;
        REQUIRE_MESSAGE(
            support::raise_descriptor_limit(2 * connections + 64) >= 2 * connections + 64,
            "this test needs about 2,100 open descriptors; raise `ulimit -n`");
        const long intact = rt::block_on([]() -> rt::Task<long> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            const SocketAddress address = listener.local_address();
            rt::spawn([&listener]() -> rt::Task<void> {
                for (;;) rt::spawn(echo(co_await listener.accept()));
            });
            std::vector<rt::JoinHandle<int>> clients;
            for (int id = 0; id < connections; ++id) {
                clients.push_back(rt::spawn(client(address, id, messages, 512)));
            }
            long total = 0;
            for (auto& handle : clients) total += co_await handle;
            co_return total;
        });
        CHECK(intact == connections * messages);
    }
}
