// Chapter 6's demo: the seed's "Time Operations" example (a sleep, then an operation that
// times out and one that completes in time), an interval, many sleeping tasks on the timing
// wheel, and the heap and the wheel compared on the same timers.
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/interval.hpp"
#include "rt/sleep.hpp"
#include "rt/time/timer_heap.hpp"
#include "rt/time/timer_wheel.hpp"
#include "rt/timeout.hpp"
#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// snippet-begin: time-operations
/// The seed's long_operation: it takes twice as long as `limit`, so it times out.
rt::Task<void> long_operation(milliseconds limit) { co_await rt::sleep(2 * limit); }

/// The seed's "Time Operations", with SLEEP for its one second.
rt::Task<void> time_operations(milliseconds sleep) {
    const Clock::time_point start = Clock::now();
    co_await rt::sleep(sleep);  // Sleep for a duration
    std::printf("  [%7.1f ms] slept %lld ms\n", ms_since(start),
                static_cast<long long>(sleep.count()));

    // Timeout an operation
    if (co_await rt::timeout(sleep, long_operation(sleep))) {
        std::printf("  [%7.1f ms] operation completed in time\n", ms_since(start));
    } else {
        std::printf("  [%7.1f ms] operation timed out\n", ms_since(start));
    }
}
// snippet-end: time-operations

/// An interval of `period`, for `ticks` ticks: each tick's scheduled time, and when it came.
rt::Task<void> ticks(milliseconds period, int ticks) {
    const Clock::time_point start = Clock::now();
    rt::Interval interval = rt::interval(period);
    for (int i = 0; i < ticks; ++i) {
        const Clock::time_point scheduled = co_await interval.tick();
        std::printf("  tick %d: scheduled at %6.1f ms, came at %6.1f ms\n", i,
                    std::chrono::duration<double, std::milli>(scheduled - start).count(),
                    ms_since(start));
    }
}

/// `tasks` tasks, task i sleeping (i * 7919) mod 50,000 microseconds (the benchmarks'
/// sleep_many): all wait on the wheel at once, and the executor sleeps between deadlines.
void many_sleepers(int tasks) {
    rt::Executor executor;
    const Clock::time_point start = Clock::now();
    for (int i = 0; i < tasks; ++i) {
        executor.spawn([i]() -> rt::Task<void> {
            co_await rt::sleep(std::chrono::microseconds((static_cast<long>(i) * 7919) % 50'000));
        });
    }
    const rt::RunStats stats = executor.run();
    std::printf("  %s tasks slept up to 50 ms; all done after %.1f ms\n",
                support::with_commas(static_cast<std::uint64_t>(tasks)).c_str(), ms_since(start));
    std::printf("  %s polls, %s timers fired, the executor slept %s times in epoll_wait\n",
                support::with_commas(stats.polls).c_str(),
                support::with_commas(stats.timers_fired).c_str(),
                support::with_commas(stats.parks).c_str());
}

/// Time the three operations of a timer structure on `count` timers with random deadlines
/// over an hour: insert all, cancel every other one, then let time run until all fire.
template <class Timers>
void time_structure(const char* name, int count) {
    std::mt19937 random(11);
    std::uniform_int_distribution<rt::detail::Tick> deadline(1, 3'600'000);
    std::vector<rt::detail::TimerEntry> entries(static_cast<std::size_t>(count));
    for (auto& entry : entries) entry.when = deadline(random);
    Timers timers;
    auto per_timer = [count](Clock::time_point since) {
        return std::chrono::duration<double, std::nano>(Clock::now() - since).count() / count;
    };
    Clock::time_point start = Clock::now();
    for (auto& entry : entries) timers.insert(&entry);
    const double insert = per_timer(start);
    start = Clock::now();
    for (std::size_t i = 0; i < entries.size(); i += 2) timers.remove(&entries[i]);
    const double cancel = per_timer(start) * 2;
    std::size_t fired = 0;
    start = Clock::now();
    for (rt::detail::Tick now = 0; now <= 3'600'000; now += 10) {  // a 10 ms clock, one hour
        timers.advance(now, [&fired](rt::detail::TimerEntry*) { ++fired; });
    }
    const double expire = per_timer(start) * 2;
    std::printf("  %-6s insert %6.1f ns   cancel %6.1f ns   expire %6.1f ns   (%s fired)\n", name,
                insert, cancel, expire, support::with_commas(fired).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    int sleep_ms = 200;
    int tasks = 10'000;
    int timers = 1'000'000;

    CLI::App app{
        "Chapter 6: timers. Runs the seed's Time Operations example (a sleep of SLEEP ms, then "
        "an operation of 2 x SLEEP ms under a timeout of SLEEP ms), an interval, TASKS tasks "
        "sleeping at once on the timing wheel, and the binary heap and the timing wheel timed "
        "on TIMERS timers.",
        "demo"};
    app.add_option("-s,--sleep-ms", sleep_ms, "the example's sleep and timeout, in ms")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("-t,--tasks", tasks, "tasks sleeping at the same time")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("--timers", timers, "timers for the heap-against-wheel comparison")
        ->check(CLI::Range(2, 10'000'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::printf("Time operations: sleep %d ms, then a %d ms operation under a %d ms timeout\n",
                sleep_ms, 2 * sleep_ms, sleep_ms);
    rt::block_on(time_operations(milliseconds(sleep_ms)));

    std::printf("\nAn interval of 50 ms (the first tick comes at once)\n");
    rt::block_on(ticks(milliseconds(50), 5));

    std::printf("\nMany sleeping tasks\n");
    many_sleepers(tasks);

    std::printf("\nThe same %s timers in each structure (deadlines over an hour)\n",
                support::with_commas(static_cast<std::uint64_t>(timers)).c_str());
    time_structure<rt::detail::TimerHeap>("heap", timers);
    time_structure<rt::detail::TimerWheel>("wheel", timers);
    return 0;
}
