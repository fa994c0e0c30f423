// Exercise 10-01's program: a mixed workload on rt::Runtime(WORKERS), every task's polls timed
// by ex::timed from every worker at once, into one ex::PollHistogram per kind of task. TASKS
// "requests" compute a little in each of their POLLS polls and yield between them; one
// "cruncher" computes a hundred times as much per poll. Prints the two histograms merged as a
// bar chart, one line per bucket that holds a poll, then the count, the mean and the
// percentiles of all the polls and of each kind: the median is a request's poll, the tail
// (p99.9, the maximum) the cruncher's, which the mean alone would hide. Exits 0.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <exception>
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

/// A task of `polls` polls, each computing `rounds` rounds, yielding between two.
rt::Task<std::uint64_t> computing_task(std::uint64_t seed, int polls, int rounds) {
    for (int poll = 1; poll < polls; ++poll) {
        seed = compute(seed, rounds);
        co_await rt::yield_now();
    }
    co_return compute(seed, rounds);
}

/// The cruncher and the requests, spawned at once, each timed into its kind's histogram;
/// returns a checksum of their results, so that the computing cannot be skipped.
rt::Task<std::uint64_t> workload(ex::PollHistogram& requests, ex::PollHistogram& cruncher,
                                 int tasks, int polls) {
    std::vector<rt::JoinHandle<std::uint64_t>> handles;
    handles.push_back(rt::spawn(ex::timed(cruncher, computing_task(7, polls, 200'000))));
    for (int i = 0; i < tasks; ++i) {
        const auto seed = static_cast<std::uint64_t>(i) + 11;
        handles.push_back(rt::spawn(ex::timed(requests, computing_task(seed, polls, 2'000))));
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

/// The bar chart: one line per bucket that holds a poll (the empty ones are left out), with
/// the bucket's range, its count and a bar as long as the count, relative to the tallest (a
/// bucket with any poll at all gets one mark).
void print_chart(const ex::HistogramSnapshot& snapshot) {
    using H = ex::PollHistogram;
    constexpr std::uint64_t bar_width = 50;
    const std::uint64_t tallest =
        *std::max_element(snapshot.buckets.begin(), snapshot.buckets.end());
    std::printf("%-22s %9s\n", "poll time", "polls");
    if (tallest == 0) {
        std::printf("(no polls)\n");
        return;
    }
    for (std::size_t k = 0; k < H::bucket_count; ++k) {
        const std::uint64_t count = snapshot.buckets[k];
        if (count == 0) continue;
        const std::string range =
            k == 0 ? "0 ns"
            : k + 1 == H::bucket_count
                ? readable(H::lower_bound(k)) + " and up"
                : readable(H::lower_bound(k)) + " to " + readable(H::upper_bound(k));
        const std::uint64_t width = (count * bar_width + tallest - 1) / tallest;
        std::printf("%-22s %9llu  %s\n", range.c_str(), static_cast<unsigned long long>(count),
                    std::string(width, '#').c_str());
    }
}

/// One line of figures: how many polls, their mean, their percentiles (each an upper estimate,
/// at most twice the true value) and the longest.
void print_figures(const char* what, const ex::HistogramSnapshot& snapshot) {
    std::printf("%-9s %6llu poll%s  mean %-9s p50 %-9s p90 %-9s p99 %-9s p99.9 %-9s max %s\n", what,
                static_cast<unsigned long long>(snapshot.count), snapshot.count == 1 ? " " : "s",
                readable(static_cast<std::uint64_t>(snapshot.mean_ns())).c_str(),
                readable(snapshot.percentile(0.5)).c_str(),
                readable(snapshot.percentile(0.9)).c_str(),
                readable(snapshot.percentile(0.99)).c_str(),
                readable(snapshot.percentile(0.999)).c_str(), readable(snapshot.max_ns).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t workers = 2;
    int tasks = 200;
    int polls = 20;
    CLI::App app{
        "Exercise 10-01: every poll of a mixed workload (many small requests, one cruncher) "
        "timed into histograms with logarithmic buckets, from every worker at once, then "
        "drawn with their percentiles.",
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
        // Before the runtime: they outlive every task that records into them.
        ex::PollHistogram requests;
        ex::PollHistogram cruncher;
        {
            rt::Runtime runtime(workers);
            const std::uint64_t sum = runtime.block_on(workload(requests, cruncher, tasks, polls));
            std::printf(
                "%zu worker%s, %d request%s and 1 cruncher, %d poll%s each (checksum %llu)\n\n",
                workers, workers == 1 ? "" : "s", tasks, tasks == 1 ? "" : "s", polls,
                polls == 1 ? "" : "s", static_cast<unsigned long long>(sum % 1000));
        }
        const ex::HistogramSnapshot of_requests = requests.snapshot();
        const ex::HistogramSnapshot of_cruncher = cruncher.snapshot();
        const ex::HistogramSnapshot all = of_requests + of_cruncher;  // merged
        print_chart(all);
        std::printf("\n");
        print_figures("all", all);
        print_figures("requests", of_requests);
        print_figures("cruncher", of_cruncher);
        return 0;
    } catch (const std::exception& error) {  // the runtime could not start
        std::fprintf(stderr, "solution-10-01: %s\n", error.what());
        return 1;
    }
}
