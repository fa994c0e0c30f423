// Exercise 10-01's program: a mixed workload on rt::Runtime(WORKERS), every task's polls timed
// into one ex::PollHistogram by ex::timed, from every worker at once. TASKS "requests" compute
// a little in each of their polls and yield between them; one "cruncher" computes a hundred
// times as much per poll. Prints the histogram as a bar chart, one line per bucket that holds
// a poll, then the count, the mean and the percentiles: the median is a request's poll, the
// tail (p99.9) is the cruncher's, which the mean alone would hide. Exits 0.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <poll_histogram.hpp>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"

namespace {

/// Work the compiler cannot remove: `rounds` steps of a xorshift generator.
std::uint64_t compute(std::uint64_t seed, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
    }
    return seed;
}

rt::Task<std::uint64_t> worker_task(std::uint64_t seed, int polls, int rounds) {
    for (int poll = 1; poll < polls; ++poll) {
        seed = compute(seed, rounds);
        co_await rt::yield_now();
    }
    co_return compute(seed, rounds);
}

rt::Task<std::uint64_t> workload(ex::PollHistogram& histogram, int tasks, int polls) {
    std::vector<rt::JoinHandle<std::uint64_t>> handles;
    handles.push_back(rt::spawn(ex::timed(histogram, worker_task(7, polls, 200'000))));
    for (int i = 0; i < tasks; ++i) {
        handles.push_back(rt::spawn(
            ex::timed(histogram, worker_task(static_cast<std::uint64_t>(i) + 11, polls, 2'000))));
    }
    std::uint64_t sum = 0;
    for (auto& handle : handles) sum += co_await handle;
    co_return sum;
}

/// A duration in nanoseconds, in the unit that suits it: "750 ns", "12 us", "3.1 ms".
std::string readable(std::uint64_t ns) {
    char text[32];
    if (ns < 1'000) {
        std::snprintf(text, sizeof text, "%llu ns", static_cast<unsigned long long>(ns));
    } else if (ns < 1'000'000) {
        std::snprintf(text, sizeof text, "%.3g us", static_cast<double>(ns) / 1e3);
    } else if (ns < 1'000'000'000) {
        std::snprintf(text, sizeof text, "%.3g ms", static_cast<double>(ns) / 1e6);
    } else {
        std::snprintf(text, sizeof text, "%.3g s", static_cast<double>(ns) / 1e9);
    }
    return text;
}

void print(const ex::HistogramSnapshot& snapshot) {
    using Snapshot = ex::HistogramSnapshot;
    const std::uint64_t tallest =
        *std::max_element(snapshot.buckets.begin(), snapshot.buckets.end());
    std::printf("%-22s %10s\n", "POLL TIME", "POLLS");
    for (std::size_t k = 0; k < Snapshot::bucket_count; ++k) {
        const std::uint64_t count = snapshot.buckets[k];
        if (count == 0) continue;
        const std::string range =
            k == 0 ? "0 ns"
            : k + 1 == Snapshot::bucket_count
                ? readable(Snapshot::lower_bound(k)) + " and up"
                : readable(Snapshot::lower_bound(k)) + " to " + readable(Snapshot::upper_bound(k));
        const auto width = static_cast<int>((count * 40 + tallest - 1) / tallest);
        std::printf("%-22s %10llu  %s\n", range.c_str(), static_cast<unsigned long long>(count),
                    std::string(static_cast<std::size_t>(width), '#').c_str());
    }
    std::printf(
        "\n%llu polls, mean %s\np50 under %s, p90 under %s, p99 under %s, p99.9 under %s, "
        "max %s\n",
        static_cast<unsigned long long>(snapshot.count),
        readable(static_cast<std::uint64_t>(snapshot.mean_ns())).c_str(),
        readable(snapshot.percentile(0.5)).c_str(), readable(snapshot.percentile(0.9)).c_str(),
        readable(snapshot.percentile(0.99)).c_str(), readable(snapshot.percentile(0.999)).c_str(),
        readable(snapshot.max_ns).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t workers = 2;
    int tasks = 200;
    int polls = 20;
    CLI::App app{
        "Exercise 10-01: every poll of a mixed workload timed into one histogram with "
        "logarithmic buckets, from every worker at once, then drawn with its percentiles.",
        "solution-10-01"};
    app.add_option("-w,--workers", workers, "worker threads (0: the single-threaded executor)")
        ->check(CLI::Range(std::size_t{0}, std::size_t{64}))
        ->capture_default_str();
    app.add_option("-t,--tasks", tasks, "request tasks, beside the one cruncher")
        ->check(CLI::Range(0, 100'000))
        ->capture_default_str();
    app.add_option("-p,--polls", polls, "polls of every task (it yields between two)")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    try {
        ex::PollHistogram histogram;  // before the runtime: it outlives every task
        {
            rt::Runtime runtime(workers);
            const std::uint64_t sum = runtime.block_on(workload(histogram, tasks, polls));
            std::printf(
                "%zu worker%s, %d requests and 1 cruncher, %d polls each (checksum %llu)\n\n",
                workers, workers == 1 ? "" : "s", tasks, polls,
                static_cast<unsigned long long>(sum % 1000));
        }
        print(histogram.snapshot());
        return 0;
    } catch (const std::exception& error) {  // the runtime could not start
        std::fprintf(stderr, "solution-10-01: %s\n", error.what());
        return 1;
    }
}
