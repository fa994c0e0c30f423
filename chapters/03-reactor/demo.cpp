// Chapter 3's demo: many tasks wait on one simulated device, each sending a few requests with
// random latencies, one after the other. The same workload runs twice: with the seed's
// wake-all reactor, then with the keyed reactor. Wakes, useful and spurious polls, time.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "rt/device.hpp"
#include "rt/executor.hpp"
#include "rt/reactor.hpp"
#include "support/cli.hpp"
#include "support/cpu_time.hpp"
#include "support/format.hpp"

namespace {

using Latencies = std::vector<std::chrono::microseconds>;

/// What the tasks of one run counted.
struct Counts {
    std::uint64_t useful = 0;    // polls after a wake that found their request complete
    std::uint64_t spurious = 0;  // polls after a wake that found nothing to do
};

// snippet-begin: client
/// One task, the state machine of:
///
///     for (auto latency : latencies) co_await device.request(latency);
///
/// Every poll but a request's first answers a wake; the client counts whether that wake
/// was useful (its request is complete) or spurious (nothing to do: pending again).
template <class Reactor>
class Client {
public:
    using Output = void;

    Client(rt::Device<Reactor>& device, Latencies latencies, Counts& counts)
        : device_(device), latencies_(std::move(latencies)), counts_(counts) {}

    rt::Poll<void> poll(rt::Context& cx) {
        bool woken = true;
        for (;;) {
            if (!request_) {
                if (next_ == latencies_.size()) return rt::ready;
                request_.emplace(device_.request(latencies_[next_++]));
                woken = false;  // a fresh request: this poll of it answers no wake
            }
            if (request_->poll(cx).is_pending()) {
                if (woken) ++counts_.spurious;
                return rt::pending;
            }
            if (woken) ++counts_.useful;
            request_.reset();
        }
    }
    // snippet-end: client

private:
    rt::Device<Reactor>& device_;
    Latencies latencies_;
    Counts& counts_;  // owned by run_workload, outlives the executor's run
    std::size_t next_ = 0;
    std::optional<rt::DeviceRequest<Reactor>> request_;
};

/// What one run of the workload cost.
struct Cost {
    Counts counts;
    rt::RunStats stats;
    std::uint64_t wakes = 0;      // delivered by the reactor
    std::uint64_t completed = 0;  // requests the device completed
    double wall = 0;
    double cpu = 0;
};

template <class Reactor>
Cost run_workload(const std::vector<Latencies>& workload) {
    Cost cost;
    support::Stopwatch stopwatch;
    {
        Reactor reactor;
        rt::Device device(reactor);
        rt::Executor executor;
        for (const Latencies& latencies : workload) {
            executor.spawn(Client(device, latencies, cost.counts));
        }
        cost.stats = executor.run();
        cost.wakes = reactor.wakes();
        // The device counts a completion just after delivering its wake, so the executor
        // can finish the last task a moment before the count catches up: wait for it.
        while (device.completed() < device.submitted()) std::this_thread::yield();
        cost.completed = device.completed();
    }
    cost.wall = stopwatch.wall_seconds();
    cost.cpu = stopwatch.cpu_seconds();
    return cost;
}

void print_row(const char* label, std::uint64_t wake_all, std::uint64_t keyed) {
    std::printf("%-30s %14s %14s\n", label, support::with_commas(wake_all).c_str(),
                support::with_commas(keyed).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 100;
    int requests = 3;
    int min_latency_ms = 10;
    int max_latency_ms = 300;
    std::uint32_t seed = 1;

    CLI::App app{
        "Chapter 3: the reactor. TASKS tasks each send REQUESTS requests, one after the other, "
        "to a simulated device whose thread completes each after a random latency between MIN "
        "and MAX ms and tells the reactor. The same workload runs twice: with the wake-all "
        "reactor (every completion wakes every waiting task) and with the keyed reactor (a "
        "completion wakes only its own task). Prints wakes, useful and spurious polls, wall and "
        "CPU time for both.",
        "demo"};
    app.add_option("-t,--tasks", tasks, "number of tasks")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("-r,--requests", requests, "requests each task sends, one after the other")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("--min-latency-ms", min_latency_ms, "shortest latency of a request, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--max-latency-ms", max_latency_ms,
                   "longest latency of a request, in ms (at least MIN)")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of the random latencies; the same seed, the same run")
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    if (min_latency_ms > max_latency_ms) {
        std::fprintf(stderr,
                     "demo: --min-latency-ms (%d) is above --max-latency-ms (%d)\n"
                     "Run with --help for the options.\n",
                     min_latency_ms, max_latency_ms);
        return support::usage_error;
    }

    // Both runs get the same latencies, drawn once.
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> latency_us(min_latency_ms * 1000, max_latency_ms * 1000);
    std::vector<Latencies> workload(static_cast<std::size_t>(tasks));
    for (Latencies& latencies : workload) {
        for (int r = 0; r < requests; ++r) latencies.emplace_back(latency_us(random));
    }

    std::printf("%d tasks, %d requests each, latencies %d-%d ms (seed %u)\n\n", tasks, requests,
                min_latency_ms, max_latency_ms, seed);
    const Cost all = run_workload<rt::WakeAllReactor>(workload);
    const Cost keyed = run_workload<rt::KeyedReactor>(workload);

    std::printf("%-30s %14s %14s\n", "", "wake_all", "keyed");
    print_row("requests completed", all.completed, keyed.completed);
    print_row("wakes delivered", all.wakes, keyed.wakes);
    print_row("polls", all.stats.polls, keyed.stats.polls);
    print_row("  useful: request complete", all.counts.useful, keyed.counts.useful);
    print_row("  spurious: nothing to do", all.counts.spurious, keyed.counts.spurious);
    print_row("executor sleeps", all.stats.parks, keyed.stats.parks);
    std::printf("%-30s %13.2fs %13.2fs\n", "wall", all.wall, keyed.wall);
    std::printf("%-30s %13.2fs %13.2fs\n", "CPU", all.cpu, keyed.cpu);
    std::printf(
        "\nThe polls counted as neither useful nor spurious are each task's first. With wake_all,\n"
        "every completion wakes every task that waits, so spurious polls grow with tasks times\n"
        "requests; with keyed wakers each completion wakes the one task it concerns.\n");
    return 0;
}
