// Chapter 8's demo: the multi-threaded runtime at work, with what each worker did.
//  1. a spawn storm: one task spawns TASKS tasks that each yield a few times; the table shows,
//     per worker, the tasks it polled, what it stole from the others, what it took from the
//     global queue, how often the LIFO slot ran the task just woken, and how often it parked;
//  2. the same storm with the workers sharing one queue under one mutex (the chapter's first
//     step), side by side, in time per task;
//  3. a server: CLIENTS connections, each sending REQUESTS lines that the server echoes, with
//     the sockets' wakes arriving on whichever worker holds the I/O driver.
// The counts per worker change from run to run (who steals what depends on timing); the
// totals do not: every task is polled the same number of times.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// The per-worker table, for what the workers did since `before`.
void print_workers(const std::vector<rt::WorkerStats>& before,
                   const std::vector<rt::WorkerStats>& after) {
    std::printf("  %-7s %10s %9s %9s %9s %9s %7s %7s\n", "worker", "polled", "LIFO", "stolen",
                "steals", "global", "parked", "driver");
    rt::WorkerStats total;
    for (std::size_t i = 0; i < after.size(); ++i) {
        const rt::WorkerStats& a = after[i];
        const rt::WorkerStats& b = before[i];
        const rt::WorkerStats d{
            a.polls - b.polls,   a.lifo_hits - b.lifo_hits,      a.steals - b.steals,
            a.stolen - b.stolen, a.from_global - b.from_global,  a.overflows - b.overflows,
            a.parks - b.parks,   a.driver_parks - b.driver_parks};
        std::printf(
            "  %-7zu %10s %9s %9s %9s %9s %7s %7s\n", i, support::with_commas(d.polls).c_str(),
            support::with_commas(d.lifo_hits).c_str(), support::with_commas(d.stolen).c_str(),
            support::with_commas(d.steals).c_str(), support::with_commas(d.from_global).c_str(),
            support::with_commas(d.parks).c_str(), support::with_commas(d.driver_parks).c_str());
        total.polls += d.polls;
        total.stolen += d.stolen;
    }
    std::printf("  all     %10s polls, %s tasks stolen\n",
                support::with_commas(total.polls).c_str(),
                support::with_commas(total.stolen).c_str());
}

rt::Task<void> yielder(std::atomic<std::size_t>* done, int yields) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
    done->fetch_add(1, std::memory_order_relaxed);
}

rt::Task<void> storm(std::size_t tasks, int yields, std::atomic<std::size_t>* done) {
    std::vector<rt::JoinHandle<void>> handles;
    handles.reserve(tasks);
    for (std::size_t i = 0; i < tasks; ++i) handles.push_back(rt::spawn(yielder(done, yields)));
    for (auto& handle : handles) co_await handle;
}

/// Parts 1 and 2: the storm on a runtime; returns nanoseconds per task.
double run_storm(rt::Runtime& runtime, std::size_t tasks, int yields) {
    std::atomic<std::size_t> done{0};
    const auto start = Clock::now();
    runtime.block_on(storm(tasks, yields, &done));
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    if (done.load() != tasks) std::printf("  (only %zu of the tasks ran!)\n", done.load());
    return ns / static_cast<double>(tasks);
}

/// Part 3: an echo server and its clients on the same runtime.
rt::Task<std::size_t> serve_and_load(int clients, int requests) {
    rt::net::TcpListener listener = rt::net::TcpListener::bind("127.0.0.1:0");
    const rt::net::SocketAddress address = listener.local_address();
    auto server = rt::spawn(
        [](rt::net::TcpListener listener, int clients) -> rt::Task<void> {
            std::vector<rt::JoinHandle<void>> connections;
            for (int c = 0; c < clients; ++c) {
                connections.push_back(rt::spawn(
                    [](rt::net::TcpStream stream) -> rt::Task<void> {
                        char buffer[256];
                        for (;;) {
                            const std::size_t got = co_await stream.read(buffer);
                            if (got == 0) co_return;
                            co_await stream.write_all(std::span<const char>(buffer, got));
                        }
                    },
                    co_await listener.accept()));
            }
            for (auto& connection : connections) co_await connection;
        },
        std::move(listener), clients);
    std::vector<rt::JoinHandle<std::size_t>> loads;
    for (int c = 0; c < clients; ++c) {
        loads.push_back(rt::spawn(
            [](rt::net::SocketAddress address, int requests) -> rt::Task<std::size_t> {
                rt::net::TcpStream stream = co_await rt::net::TcpStream::connect(address);
                const std::string line = "hello, runtime\n";
                std::string echo(line.size(), '\0');
                std::size_t intact = 0;
                for (int r = 0; r < requests; ++r) {
                    co_await stream.write_all(line);
                    co_await stream.read_exact(echo);
                    intact += echo == line ? 1 : 0;
                }
                co_return intact;
            },
            address, requests));
    }
    std::size_t intact = 0;
    for (auto& load : loads) intact += co_await load;
    co_await server;  // the clients closed their streams: every echo task ended
    co_return intact;
}

}  // namespace

int main(int argc, char** argv) {
    int workers = 2;
    int tasks = 200'000;
    int yields = 3;
    int clients = 32;
    int requests = 200;
    CLI::App app{
        "Chapter 8: the multi-threaded runtime. A spawn storm of TASKS tasks that yield YIELDS "
        "times each, with what every worker did (polled, stolen, taken from the global queue, "
        "run from the LIFO slot, parked); the same storm on one shared queue, for comparison; "
        "then an echo server with CLIENTS connections of REQUESTS round trips each.",
        "demo"};
    app.add_option("-w,--workers", workers, "worker threads")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("-t,--tasks", tasks, "tasks in the spawn storm")
        ->check(CLI::Range(1, 2'000'000))
        ->capture_default_str();
    app.add_option("--yields", yields, "yields per task in the storm")
        ->check(CLI::Range(0, 1'000))
        ->capture_default_str();
    app.add_option("--clients", clients, "connections to the echo server")
        ->check(CLI::Range(1, 1'000))
        ->capture_default_str();
    app.add_option("--requests", requests, "round trips per connection")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const auto n = static_cast<std::size_t>(tasks);
    std::printf("A spawn storm: %s tasks, %d yields each, on %d workers (work stealing)\n",
                support::with_commas(n).c_str(), yields, workers);
    double stealing_ns = 0;
    {
        rt::Runtime runtime(static_cast<std::size_t>(workers));
        const auto before = runtime.worker_stats();
        stealing_ns = run_storm(runtime, n, yields);
        print_workers(before, runtime.worker_stats());
    }

    std::printf("\nThe same storm on one shared queue under a mutex\n");
    double shared_ns = 0;
    {
        rt::Runtime runtime(static_cast<std::size_t>(workers), rt::Scheduling::shared_queue);
        const auto before = runtime.worker_stats();
        shared_ns = run_storm(runtime, n, yields);
        print_workers(before, runtime.worker_stats());
    }
    std::printf("  per task: %.1f ns with work stealing, %.1f ns with the shared queue\n",
                stealing_ns, shared_ns);

    std::printf("\nAn echo server: %d clients, %d round trips each, on %d workers\n", clients,
                requests, workers);
    {
        rt::Runtime runtime(static_cast<std::size_t>(workers));
        const auto before = runtime.worker_stats();
        const auto start = Clock::now();
        const std::size_t intact = runtime.block_on(serve_and_load(clients, requests));
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        print_workers(before, runtime.worker_stats());
        std::printf("  %s of %s echoes intact, in %.1f ms\n", support::with_commas(intact).c_str(),
                    support::with_commas(static_cast<std::uint64_t>(clients) *
                                         static_cast<std::uint64_t>(requests))
                        .c_str(),
                    ms);
        if (intact != static_cast<std::size_t>(clients) * static_cast<std::size_t>(requests)) {
            return 1;
        }
    }
    return 0;
}
