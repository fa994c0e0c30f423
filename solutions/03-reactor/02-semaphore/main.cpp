// Exercise 03-02's program: JOBS jobs share PERMITS permits of a semaphore, as requests share
// the few connections of a pool. Each job acquires a permit, sends a request to chapter 3's
// simulated device, and gives the permit back when the request completes. Prints who holds a
// permit when, and checks that never more than PERMITS do and that permits went out in order.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <vector>

#include <semaphore.hpp>

#include "rt/device.hpp"
#include "rt/executor.hpp"
#include "rt/reactor.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What the jobs share with main (one thread: the executor's).
struct Log {
    Clock::time_point start;
    int in_use = 0;
    int most_in_use = 0;
    std::vector<int> grant_order;

    double now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

/// The state machine of:
///
///     auto permit = co_await semaphore.acquire();
///     co_await device.request(latency);
///     // permit given back here
class Job {
public:
    using Output = void;

    Job(int id, rt::sync::Semaphore& semaphore, rt::Device<rt::KeyedReactor>& device,
        std::chrono::milliseconds latency, Log& log)
        : id_(id), acquire_(semaphore.acquire()), device_(device), latency_(latency), log_(log) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (!permit_) {
            rt::Poll<rt::sync::SemaphorePermit> polled = acquire_.poll(cx);
            if (polled.is_pending()) return rt::pending;
            permit_.emplace(std::move(polled).value());
            ++log_.in_use;
            log_.most_in_use = std::max(log_.most_in_use, log_.in_use);
            log_.grant_order.push_back(id_);
            std::printf("[%6.3f s] job %2d: permit acquired, %d in use; request of %lld ms\n",
                        log_.now(), id_, log_.in_use, static_cast<long long>(latency_.count()));
            request_.emplace(device_.request(latency_));
        }
        if (request_->poll(cx).is_pending()) return rt::pending;
        permit_.reset();  // given back: the oldest waiting job is woken with it
        --log_.in_use;
        std::printf("[%6.3f s] job %2d: done, permit given back\n", log_.now(), id_);
        return rt::ready;
    }

private:
    int id_;
    rt::sync::Semaphore::Acquire acquire_;
    rt::Device<rt::KeyedReactor>& device_;
    std::chrono::milliseconds latency_;
    Log& log_;  // owned by main, outlives the executor's run
    std::optional<rt::sync::SemaphorePermit> permit_;
    std::optional<rt::DeviceRequest<rt::KeyedReactor>> request_;
};

}  // namespace

int main(int argc, char** argv) {
    int jobs = 12;
    int permits = 3;
    int min_latency_ms = 100;
    int max_latency_ms = 250;
    std::uint32_t seed = 1;

    CLI::App app{
        "Exercise 03-02: an async semaphore. JOBS jobs share PERMITS permits: each acquires one, "
        "sends a request with a random latency between MIN and MAX ms to chapter 3's simulated "
        "device, and gives the permit back when the request completes. Permits go to waiting "
        "jobs first come, first served.",
        "solution-03-02"};
    app.add_option("-j,--jobs", jobs, "number of jobs")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("-p,--permits", permits, "permits of the semaphore")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("--min-latency-ms", min_latency_ms, "shortest request, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--max-latency-ms", max_latency_ms, "longest request, in ms (at least MIN)")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of the random latencies")->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    if (min_latency_ms > max_latency_ms) {
        std::fprintf(stderr,
                     "solution-03-02: --min-latency-ms (%d) is above --max-latency-ms (%d)\n"
                     "Run with --help for the options.\n",
                     min_latency_ms, max_latency_ms);
        return support::usage_error;
    }

    std::mt19937 random(seed);
    std::uniform_int_distribution<int> latency_ms(min_latency_ms, max_latency_ms);
    Log log{Clock::now(), 0, 0, {}};
    rt::sync::Semaphore semaphore(static_cast<std::size_t>(permits));
    rt::KeyedReactor reactor;
    rt::Device device(reactor);
    rt::RunStats stats;
    {
        rt::Executor executor;
        for (int id = 0; id < jobs; ++id) {
            const std::chrono::milliseconds latency(latency_ms(random));
            executor.spawn(Job(id, semaphore, device, latency, log));
        }
        stats = executor.run();
    }

    const bool in_order = std::is_sorted(log.grant_order.begin(), log.grant_order.end());
    std::printf(
        "\n%d jobs, %d permits: at most %d in use at once; permits went out %s.\n"
        "%llu polls in all: each job was polled once to start, once when handed a permit (if it\n"
        "waited), and once when its request completed. %zu permits free at the end.\n",
        jobs, permits, log.most_in_use, in_order ? "in arrival order" : "OUT OF ORDER (a bug)",
        static_cast<unsigned long long>(stats.polls), semaphore.available_permits());
    return log.most_in_use <= permits && in_order ? 0 : 1;
}
