// Tests of chapter 9's cooperative budget (rt/coop.hpp): a task whose resources are always
// ready is made to yield after coop::budget_per_poll ready answers, so the task queued behind
// it runs; the yield loses nothing (every byte, every value arrives); outside a task's poll the
// budget is unlimited.
//
// On one thread (the executor, or one worker) the order is fixed: the greedy task runs first, its
// neighbour waits behind it, so the tests can say exactly how far the greedy task got before
// the neighbour ran. No verdict depends on speed.
#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rt/coop.hpp"
#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/sync/oneshot.hpp"

namespace {

/// What the greedy task saw of its neighbour.
struct Race {
    std::atomic<bool> neighbour_ran{false};
    int steps_before_neighbour = -1;  // the greedy task's steps done when it first saw it
    int steps_done = 0;

    /// After each step of the greedy task.
    void step() {
        ++steps_done;
        if (steps_before_neighbour < 0 && neighbour_ran) steps_before_neighbour = steps_done;
    }
};

/// The neighbour, which the greedy task spawns before it starts: queued behind it (on one
/// worker, in its LIFO slot), it runs only when the greedy task lets the worker go.
rt::JoinHandle<void> spawn_neighbour(Race* race) {
    return rt::spawn([](Race* race) -> rt::Task<void> {
        race->neighbour_ran = true;
        co_return;
    }(race));
}

}  // namespace

TEST_CASE("a task reading a socket that is always readable yields, and its neighbour runs") {
    static constexpr int bytes = 2'000;
    rt::Runtime runtime(0);
    Race race;
    const std::string received = runtime.block_on([&]() -> rt::Task<std::string> {
        rt::net::TcpListener listener = rt::net::TcpListener::bind("127.0.0.1:0");
        rt::net::TcpStream writer = co_await rt::net::TcpStream::connect(listener.local_address());
        rt::net::TcpStream reader = co_await listener.accept();
        // Everything is in the reader's kernel buffer before the greedy task starts: each of its
        // one-byte reads is ready at once, and it never has to wait.
        std::string sent(bytes, 'x');
        for (int i = 0; i < bytes; ++i) sent[static_cast<std::size_t>(i)] = char('a' + i % 26);
        co_await writer.write_all(std::span(sent.data(), sent.size()));

        auto greedy = rt::spawn(
            [](rt::net::TcpStream reader, Race* race) -> rt::Task<std::string> {
                // The first read may wait for the driver's first event; after it, every read
                // is ready at once. Only then is the neighbour spawned.
                std::string got;
                char byte = 0;
                if (co_await reader.read(std::span(&byte, 1)) == 1) got.push_back(byte);
                auto neighbour = spawn_neighbour(race);
                while (got.size() < static_cast<std::size_t>(bytes)) {
                    const std::size_t n = co_await reader.read(std::span(&byte, 1));
                    if (n == 0) break;
                    got.push_back(byte);
                    race->step();
                }
                co_await std::move(neighbour);
                co_return got;
            },
            std::move(reader), &race);
        std::string got = co_await std::move(greedy);
        co_return got == sent ? std::string("intact") : got;
    });
    CHECK(received == "intact");
    REQUIRE_MESSAGE(race.steps_before_neighbour >= 0, "the reader read all ", bytes,
                    " bytes before its neighbour ever ran");
    CHECK(race.steps_before_neighbour <= static_cast<int>(rt::coop::budget_per_poll) + 1);
}

TEST_CASE("a task awaiting values that are always there yields, and loses none of them") {
    // On the executor, and on one worker thread, where the neighbour waits in the LIFO slot.
    static constexpr int values = 1'000;
    for (std::size_t workers : {0, 1}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        Race race;
        const long sum = runtime.block_on([&]() -> rt::Task<long> {
            std::vector<rt::sync::oneshot::Receiver<int>> receivers;
            for (int i = 0; i < values; ++i) {
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                std::move(sender).send(i);  // ready before anyone awaits it
                receivers.push_back(std::move(receiver));
            }
            auto greedy = rt::spawn(
                [](std::vector<rt::sync::oneshot::Receiver<int>> receivers,
                   Race* race) -> rt::Task<long> {
                    auto neighbour = spawn_neighbour(race);
                    long total = 0;
                    for (auto& receiver : receivers) {
                        total += (co_await std::move(receiver)).value_or(-1'000'000);
                        race->step();
                    }
                    co_await std::move(neighbour);
                    co_return total;
                },
                std::move(receivers), &race);
            co_return co_await std::move(greedy);
        });
        CHECK(sum == long{values} * (values - 1) / 2);
        REQUIRE_MESSAGE(race.steps_before_neighbour >= 0, "the greedy task took all ", values,
                        " values before its neighbour ran");
        CHECK(race.steps_before_neighbour <= static_cast<int>(rt::coop::budget_per_poll) + 1);
    }
}

TEST_CASE("each poll starts with a full budget, and outside a poll there is no limit") {
    rt::Runtime runtime(0);
    const int turns = runtime.block_on(
        []() -> rt::Task<int> { co_return static_cast<int>(rt::coop::remaining()); });
    CHECK(turns == static_cast<int>(rt::coop::budget_per_poll));
    CHECK(rt::coop::remaining() > rt::coop::budget_per_poll);  // outside a poll: unlimited
}
