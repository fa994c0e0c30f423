// Tests of chapter 8's multi-threaded runtime, through rt::Runtime: every task runs exactly
// once and is never polled by two workers at once; wakes, timers and sockets work from any
// worker and from threads outside the runtime; work spreads over the workers; shutdown with
// tasks running, queued and waiting on every worker destroys every future and leaks nothing.
// Both ways of sharing tasks (work stealing, and the shared queue) pass the same tests.
//
// No verdict depends on speed: what other threads do is ordered by the runtime's own
// synchronisation, waits are bounded by rt::timeout or testing::eventually with the project's
// patience (a failure then says what did not happen), and the counts are what every
// interleaving must give. The stress tests take a seed (RT_STRESS_SEED), printed when they
// fail, so that a failing run can be repeated.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/lifetimes.hpp"

using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int scale = 10;  // sanitized builds run the same tests on less work
#else
constexpr int scale = 1;
#endif

/// The seed of the stress tests: RT_STRESS_SEED, or a fresh one.
std::uint64_t stress_seed() {
    if (const char* text = std::getenv("RT_STRESS_SEED")) return std::strtoull(text, nullptr, 10);
    return std::random_device{}();
}

/// Run `make()`'s task on `runtime`, giving up after the project's patience: a runtime that
/// lost a wake fails with a message instead of hanging.
template <class Make>
auto block_on_patient(rt::Runtime& runtime, Make make) {
    return runtime.block_on([make]() mutable -> rt::Task<bool> {
        co_return co_await rt::timeout(testing::patience(), make());
    });
}

/// A future that is ready after `polls` polls, each time waking itself from another thread,
/// and that records whether two threads ever polled it at once.
class WokenFromAfar {
public:
    using Output = void;

    struct Shared {
        std::mutex mutex;
        std::vector<rt::Waker> to_wake;  // the wakers a foreign thread wakes
        std::atomic<int> overlaps{0};    // polls that found another poll in progress
    };

    WokenFromAfar(Shared* shared, int polls) : shared_(shared), polls_left_(polls) {}
    WokenFromAfar(WokenFromAfar&& other) noexcept
        : shared_(other.shared_), polls_left_(other.polls_left_) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (in_poll_.exchange(true)) shared_->overlaps.fetch_add(1);
        bool done = --polls_left_ == 0;
        if (!done) {
            std::lock_guard lock(shared_->mutex);
            shared_->to_wake.push_back(cx.waker());
        }
        // A wake can come from the foreign thread right now, while this poll is not over:
        // the runtime must not poll the task again before it returns.
        std::this_thread::yield();
        in_poll_.store(false);
        if (done) return rt::ready;
        return rt::pending;
    }

private:
    Shared* shared_;
    int polls_left_;
    std::atomic<bool> in_poll_{false};
};

rt::Task<void> count_down(std::atomic<int>* remaining) {
    remaining->fetch_sub(1);
    co_return;
}

}  // namespace

TEST_CASE("block_on gives the future's value and rethrows its exception, with any workers") {
    for (std::size_t workers : {0, 1, 2, 4}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        CHECK(runtime.workers() == workers);
        CHECK(runtime.block_on([]() -> rt::Task<int> { co_return 42; }) == 42);
        CHECK_THROWS_WITH_AS(runtime.block_on([]() -> rt::Task<int> {
            throw std::runtime_error("from a worker");
            co_return 0;
        }),
                             "from a worker", std::runtime_error);
    }
}

TEST_CASE("block_on inside a task of a runtime is refused") {
    rt::Runtime runtime(2);
    rt::Runtime* self = &runtime;
    CHECK_THROWS_AS(runtime.block_on([self]() -> rt::Task<void> {
        self->block_on([]() -> rt::Task<void> { co_return; });
        co_return;
    }),
                    std::logic_error);
}

TEST_CASE("every spawned task runs exactly once, with either way of sharing tasks") {
    for (rt::Scheduling scheduling :
         {rt::Scheduling::work_stealing, rt::Scheduling::shared_queue}) {
        for (std::size_t workers : {1, 2, 4}) {
            CAPTURE(workers);
            CAPTURE(scheduling == rt::Scheduling::shared_queue);
            const int tasks = 20'000 / scale;
            std::vector<std::atomic<int>> runs(static_cast<std::size_t>(tasks));
            rt::Runtime runtime(workers, scheduling);
            const bool finished = block_on_patient(runtime, [&runs, tasks]() -> rt::Task<void> {
                std::vector<rt::JoinHandle<void>> handles;
                for (int i = 0; i < tasks; ++i) {
                    handles.push_back(rt::spawn(
                        [](std::atomic<int>* slot) -> rt::Task<void> {
                            co_await rt::yield_now();
                            slot->fetch_add(1);
                        },
                        &runs[static_cast<std::size_t>(i)]));
                }
                for (auto& handle : handles) co_await handle;
            });
            REQUIRE_MESSAGE(finished, "the spawned tasks did not all complete: a lost wake");
            int wrong = 0;
            for (auto& count : runs) wrong += count.load() != 1;
            CHECK(wrong == 0);
            std::uint64_t polls = 0;
            for (const rt::WorkerStats& stats : runtime.worker_stats()) polls += stats.polls;
            CHECK(polls >= static_cast<std::uint64_t>(2 * tasks));  // each task polled twice
        }
    }
}

TEST_CASE("a task woken from another thread during its poll is never polled twice at once") {
    for (std::size_t workers : {1, 2, 4}) {
        CAPTURE(workers);
        WokenFromAfar::Shared shared;
        std::atomic<bool> stop{false};
        std::thread waker([&] {  // wakes whatever the tasks left, as soon as they leave it
            while (!stop.load()) {
                std::vector<rt::Waker> batch;
                {
                    std::lock_guard lock(shared.mutex);
                    batch.swap(shared.to_wake);
                }
                for (rt::Waker& waker : batch) std::move(waker).wake();
                std::this_thread::yield();
            }
        });
        {
            rt::Runtime runtime(workers);
            const int tasks = 200;
            const int polls = 500 / scale;
            const bool finished = block_on_patient(runtime, [&]() -> rt::Task<void> {
                std::vector<rt::JoinHandle<void>> handles;
                for (int i = 0; i < tasks; ++i) {
                    handles.push_back(rt::spawn(WokenFromAfar(&shared, polls)));
                }
                for (auto& handle : handles) co_await handle;
            });
            CHECK_MESSAGE(finished, "a task woken from another thread was never polled again");
        }
        stop = true;
        waker.join();
        CHECK(shared.overlaps.load() == 0);
        std::lock_guard lock(shared.mutex);
        shared.to_wake.clear();
    }
}

TEST_CASE("tasks spawned on one worker are run by the others too") {
    rt::Runtime runtime(2);
    std::mutex mutex;
    std::set<std::thread::id> threads;
    std::atomic<bool> both{false};
    // Each task yields until two threads have run tasks, or until it has yielded a great
    // many times: the first worker keeps its queue full, and the second, unparked by the
    // first's pushes, steals from it.
    const bool finished = block_on_patient(runtime, [&]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int i = 0; i < 1000; ++i) {
            handles.push_back(rt::spawn([&]() -> rt::Task<void> {
                for (int turn = 0; turn < 100'000 && !both.load(); ++turn) {
                    {
                        std::lock_guard lock(mutex);
                        threads.insert(std::this_thread::get_id());
                        if (threads.size() == 2) both = true;
                    }
                    co_await rt::yield_now();
                }
            }));
        }
        for (auto& handle : handles) co_await handle;
    });
    REQUIRE(finished);
    CHECK_MESSAGE(both.load(), "every task ran on one worker: nothing was stolen or shared");
    std::uint64_t stolen = 0;
    std::uint64_t from_global = 0;
    for (const rt::WorkerStats& stats : runtime.worker_stats()) {
        stolen += stats.stolen;
        from_global += stats.from_global;
    }
    CHECK(stolen + from_global > 0);
}

TEST_CASE("ping-pong through oneshot channels completes on every number of workers") {
    for (std::size_t workers : {1, 2, 4}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        const int pings = 10'000 / scale;
        std::atomic<int> remaining{pings};
        const bool finished = block_on_patient(runtime, [&]() -> rt::Task<void> {
            std::vector<rt::JoinHandle<void>> handles;
            for (int p = 0; p < pings; ++p) {
                handles.push_back(rt::spawn(
                    [](std::atomic<int>* left) -> rt::Task<void> {
                        auto [tx1, rx1] = rt::sync::oneshot::channel<int>();
                        auto [tx2, rx2] = rt::sync::oneshot::channel<int>();
                        rt::spawn(
                            [](rt::sync::oneshot::Receiver<int> ping,
                               rt::sync::oneshot::Sender<int> pong) -> rt::Task<void> {
                                std::move(pong).send(*(co_await std::move(ping)) + 1);
                            },
                            std::move(rx1), std::move(tx2));
                        std::move(tx1).send(1);
                        if (co_await std::move(rx2) == 2) left->fetch_sub(1);
                    },
                    &remaining));
            }
            for (auto& handle : handles) co_await handle;
        });
        REQUIRE(finished);
        CHECK(remaining.load() == 0);
    }
}

TEST_CASE("timers registered on any worker fire, never before their deadline") {
    rt::Runtime runtime(4);
    const int sleepers = 1000 / scale;
    std::atomic<int> early{0};
    std::atomic<int> woke{0};
    const bool finished = block_on_patient(runtime, [&]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int i = 0; i < sleepers; ++i) {
            handles.push_back(rt::spawn([&, i]() -> rt::Task<void> {
                co_await rt::yield_now();  // maybe on another worker by now
                const auto deadline = rt::Clock::now() + std::chrono::milliseconds(1 + i % 20);
                co_await rt::sleep_until(deadline);
                if (rt::Clock::now() < deadline) early.fetch_add(1);
                woke.fetch_add(1);
            }));
        }
        for (auto& handle : handles) co_await handle;
    });
    REQUIRE_MESSAGE(finished, "some sleeps never woke");
    CHECK(woke.load() == sleepers);
    CHECK(early.load() == 0);
}

TEST_CASE("a timer due sooner than the one a parked worker sleeps for wakes it") {
    rt::Runtime runtime(2);
    rt::Handle handle = runtime.handle();
    // A sleep of an hour: the worker holding the drivers parks in epoll_wait with an hour's
    // timeout. A task spawned later, from this thread, sleeps a millisecond; the driver must
    // be interrupted to sleep shorter, or that task would wait for the hour.
    auto long_sleep = handle.spawn([]() -> rt::Task<void> { co_await rt::sleep(1h); });
    std::atomic<bool> short_done{false};
    auto short_sleep = handle.spawn([&short_done]() -> rt::Task<void> {
        co_await rt::sleep(1ms);
        short_done = true;
    });
    CHECK_MESSAGE(testing::eventually([&] { return short_done.load(); }),
                  "a short sleep waited behind the parked driver's long timeout");
    long_sleep.abort();
}

TEST_CASE("sockets opened on one worker are read and written on others") {
    rt::Runtime runtime(4);
    const int clients = 32;
    const std::size_t bytes = 64 * 1024 / static_cast<std::size_t>(scale);
    const auto intact = runtime.block_on([&]() -> rt::Task<std::optional<int>> {
        co_return co_await rt::timeout(testing::patience(), [&]() -> rt::Task<int> {
            rt::net::TcpListener listener = rt::net::TcpListener::bind("127.0.0.1:0");
            const rt::net::SocketAddress address = listener.local_address();
            // The server: each accepted connection echoes on a task of its own, on any worker.
            auto server = rt::spawn(
                [](rt::net::TcpListener listener, int clients) -> rt::Task<void> {
                    std::vector<rt::JoinHandle<void>> echoes;
                    for (int c = 0; c < clients; ++c) {
                        rt::net::TcpStream stream = co_await listener.accept();
                        echoes.push_back(rt::spawn(
                            [](rt::net::TcpStream stream) -> rt::Task<void> {
                                std::vector<char> buffer(4096);
                                for (;;) {
                                    const std::size_t got = co_await stream.read(buffer);
                                    if (got == 0) break;
                                    co_await stream.write_all(std::span(buffer.data(), got));
                                }
                            },
                            std::move(stream)));
                    }
                    for (auto& echo : echoes) co_await echo;
                },
                std::move(listener), clients);
            std::vector<rt::JoinHandle<bool>> checks;
            for (int c = 0; c < clients; ++c) {
                checks.push_back(rt::spawn(
                    [](rt::net::SocketAddress address, std::size_t bytes, int c) -> rt::Task<bool> {
                        rt::net::TcpStream stream = co_await rt::net::TcpStream::connect(address);
                        std::string sent(bytes, '\0');
                        for (std::size_t i = 0; i < bytes; ++i)
                            sent[i] = static_cast<char>(i * 7 + c);
                        auto writer = rt::spawn(
                            [](rt::net::TcpStream* stream,
                               const std::string* sent) -> rt::Task<void> {
                                co_await stream->write_all(*sent);
                                stream->shutdown_write();
                            },
                            &stream, &sent);
                        std::string received(bytes, '\0');
                        co_await stream.read_exact(received);
                        co_await writer;
                        co_return received == sent;
                    },
                    address, bytes, c));
            }
            int good = 0;
            for (auto& check : checks) good += (co_await check) ? 1 : 0;
            co_await server;
            co_return good;
        }());
    });
    REQUIRE_MESSAGE(intact.has_value(), "the echo exchange did not finish: a lost I/O wake");
    CHECK(*intact == clients);
}

TEST_CASE("threads outside the runtime spawn through a Handle, and every task runs once") {
    rt::Runtime runtime(2);
    const int threads = 4;
    const int per_thread = 5000 / scale;
    std::atomic<int> remaining{threads * per_thread};
    std::vector<std::thread> spawners;
    for (int t = 0; t < threads; ++t) {
        spawners.emplace_back([&, handle = runtime.handle()] {
            for (int i = 0; i < per_thread; ++i) handle.spawn(count_down(&remaining));
        });
    }
    for (auto& spawner : spawners) spawner.join();
    CHECK_MESSAGE(testing::eventually([&] { return remaining.load() == 0; }),
                  "tasks spawned from outside never ran");
    CHECK(remaining.load() == 0);
}

TEST_CASE("abort from another thread cancels a task that runs on a worker") {
    rt::Runtime runtime(2);
    auto destroyed = std::make_shared<int>(0);
    std::atomic<bool> started{false};
    auto handle = runtime.spawn([destroyed, &started]() -> rt::Task<void> {
        testing::DestructionCounter counter(destroyed);
        started = true;
        for (;;) co_await rt::yield_now();
    });
    REQUIRE(testing::eventually([&] { return started.load(); }));
    handle.abort();
    CHECK_THROWS_AS(runtime.block_on(std::move(handle)), rt::TaskAborted);
    CHECK(*destroyed == 1);
}

TEST_CASE("shutdown destroys every future: running, queued, parked and sleeping, on every worker") {
    auto destroyed = std::make_shared<int>(0);
    std::vector<rt::JoinHandle<void>> handles;
    const int each = 50;
    {
        rt::Runtime runtime(4);
        std::atomic<int> started{0};
        for (int i = 0; i < each; ++i) {
            handles.push_back(runtime.spawn([destroyed, &started]() -> rt::Task<void> {
                testing::DestructionCounter counter(destroyed);
                started.fetch_add(1);
                for (;;) co_await rt::yield_now();  // always running or queued
            }));
            handles.push_back(runtime.spawn([destroyed, &started]() -> rt::Task<void> {
                testing::DestructionCounter counter(destroyed);
                started.fetch_add(1);
                co_await rt::sleep(1h);  // a registered timer
            }));
            handles.push_back(runtime.spawn([destroyed, &started]() -> rt::Task<void> {
                testing::DestructionCounter counter(destroyed);
                started.fetch_add(1);
                auto [tx, rx] = rt::sync::oneshot::channel<int>();
                co_await std::move(rx);  // waits for ever: its own sender is alive in its frame
                (void)tx;
            }));
        }
        REQUIRE(testing::eventually([&] { return started.load() == 3 * each; }));
        // And tasks spawned from afar and never polled: shutdown may come before any worker
        // takes them from the global queue.
        for (int i = 0; i < each; ++i) {
            handles.push_back(runtime.handle().spawn([destroyed]() -> rt::Task<void> {
                testing::DestructionCounter counter(destroyed);
                co_await rt::sleep(1h);
            }));
        }
    }
    // Every future that started was destroyed with its counter; the others never made one.
    CHECK(*destroyed >= 3 * each);
    CHECK(*destroyed <= 4 * each);
    for (auto& handle : handles) {
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        CHECK_THROWS_AS((void)handle.poll(cx), rt::TaskAborted);
    }
}

TEST_CASE("spawns from outside racing with shutdown run or are aborted, and leak nothing") {
    const int threads = 3;
    std::vector<std::vector<rt::JoinHandle<int>>> handles(threads);
    std::atomic<bool> go{false};
    std::vector<std::thread> spawners;
    {
        rt::Runtime runtime(2);
        for (int t = 0; t < threads; ++t) {
            spawners.emplace_back([&, t, handle = runtime.handle()] {
                while (!go.load()) std::this_thread::yield();
                for (int i = 0; i < 2000 / scale; ++i) {
                    handles[t].push_back(handle.spawn([i]() -> rt::Task<int> {
                        co_await rt::yield_now();
                        co_return i;
                    }));
                }
            });
        }
        go = true;
        // The runtime goes while the spawners spawn.
    }
    for (auto& spawner : spawners) spawner.join();
    // Every JoinHandle has an outcome: its value, or TaskAborted; none waits for ever.
    int values = 0;
    int aborted = 0;
    for (auto& per_thread : handles) {
        for (auto& handle : per_thread) {
            rt::Waker waker = rt::noop_waker();
            rt::Context cx(waker);
            try {
                rt::Poll<int> outcome = handle.poll(cx);
                REQUIRE_MESSAGE(outcome.is_ready(), "a JoinHandle outlived its runtime pending");
                ++values;
            } catch (const rt::TaskAborted&) {
                ++aborted;
            }
        }
    }
    CHECK(values + aborted == threads * (2000 / scale));
}

TEST_CASE("stress: cross-worker wakes and steals lose no task and run none twice") {
    const std::uint64_t seed = stress_seed();
    INFO("RT_STRESS_SEED=" << seed);
    std::mt19937_64 random(seed);
    for (std::size_t workers : {2, 3, 4}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        // Chains of tasks handing a token through oneshot channels, each hop spawning the next
        // task on whichever worker runs the spawner, with random yields: wakes cross workers,
        // queues fill and are stolen from.
        const int chains = 64;
        const int hops = 20'000 / scale;  // 1.28 million hops a runtime, each a spawn and a wake
        std::vector<int> yields(static_cast<std::size_t>(chains * hops));
        for (int& y : yields) y = static_cast<int>(random() % 3);
        std::atomic<long> total{0};
        const bool finished = block_on_patient(runtime, [&]() -> rt::Task<void> {
            std::vector<rt::JoinHandle<long>> handles;
            for (int c = 0; c < chains; ++c) {
                handles.push_back(rt::spawn([&, c]() -> rt::Task<long> {
                    long sum = 0;
                    for (int h = 0; h < hops; ++h) {
                        auto [tx, rx] = rt::sync::oneshot::channel<int>();
                        const int y = yields[static_cast<std::size_t>(c * hops + h)];
                        rt::spawn(
                            [](rt::sync::oneshot::Sender<int> tx, int y, int h) -> rt::Task<void> {
                                for (int i = 0; i < y; ++i) co_await rt::yield_now();
                                std::move(tx).send(h);
                            },
                            std::move(tx), y, h);
                        sum += *co_await std::move(rx);
                    }
                    co_return sum;
                }));
            }
            for (auto& handle : handles) total += co_await handle;
        });
        REQUIRE_MESSAGE(finished, "a chain stopped: a lost wake (RT_STRESS_SEED=" << seed << ")");
        const long per_chain = static_cast<long>(hops) * (hops - 1) / 2;
        CHECK(total.load() == chains * per_chain);
    }
}
