// Exercise 08-02's program: producer threads push items, in bursts with pauses between them,
// to a pool of worker threads (ex::Pool) that park on their ex::Parker whenever the
// queue is empty. Prints, per worker, the items it handled, how often it parked, how often a
// notification woke it, and the spurious wakeups of its condition variable; checks that every
// item was handled exactly once, and exits 0 if so, 1 otherwise.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include <idle.hpp>
#include <parker.hpp>

#include "support/cli.hpp"
#include "support/format.hpp"

int main(int argc, char** argv) {
    int workers = 4;
    int producers = 2;
    int items = 200'000;
    int burst = 64;
    int pause_us = 50;
    int patience_s = 10;

    CLI::App app{
        "Exercise 08-02: idle workers that park without lost wakeups. --producers threads "
        "push --items items in all to one shared queue, --burst at a time with a pause of "
        "--pause-us microseconds after each burst, so that the --workers threads run out of "
        "work and park between bursts. Prints, per worker, the items it handled, its parks, the "
        "notifications that woke it and the spurious wakeups of its condition variable; checks "
        "that every item was handled exactly once (exit 0) or not (exit 1).",
        "solution-08-02"};
    app.add_option("-w,--workers", workers, "worker threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("-p,--producers", producers, "producer threads")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_option("-n,--items", items, "items pushed in all")
        ->check(CLI::Range(1, 100'000'000))
        ->capture_default_str();
    app.add_option("-b,--burst", burst, "items a producer pushes before each pause")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("--pause-us", pause_us, "a producer's pause after each burst, in microseconds")
        ->check(CLI::Range(0, 1'000'000))
        ->capture_default_str();
    app.add_option("--patience-s", patience_s,
                   "how long to wait, once every item is pushed, for the workers to handle them "
                   "all before calling it a lost wakeup, in seconds")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const auto start = std::chrono::steady_clock::now();
    std::vector<std::atomic<std::uint8_t>> handled(static_cast<std::size_t>(items));
    std::atomic<int> handled_count{0};
    ex::Pool<int> pool(static_cast<std::uint32_t>(workers));

    std::vector<std::thread> worker_threads;
    for (int w = 0; w < workers; ++w) {
        worker_threads.emplace_back([&, w] {
            pool.run_worker(static_cast<std::uint32_t>(w), [&](int item) {
                handled[static_cast<std::size_t>(item)].fetch_add(1, std::memory_order_relaxed);
                handled_count.fetch_add(1, std::memory_order_relaxed);
            });
        });
    }

    // Producer p pushes the items p, p + PRODUCERS, p + 2 * PRODUCERS, ...
    std::vector<std::thread> producer_threads;
    for (int p = 0; p < producers; ++p) {
        producer_threads.emplace_back([&, p] {
            int in_burst = 0;
            for (int item = p; item < items; item += producers) {
                pool.push(item);
                if (++in_burst == burst) {
                    in_burst = 0;
                    std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
                }
            }
        });
    }
    for (std::thread& thread : producer_threads) thread.join();

    // Every item is pushed: the workers must handle them all without another push.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(patience_s);
    while (handled_count.load(std::memory_order_relaxed) < items &&
           std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const int left = items - handled_count.load(std::memory_order_relaxed);
    pool.shutdown();
    for (std::thread& thread : worker_threads) thread.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    std::printf("%d producer(s) pushed %s items, %d at a time, to %d worker(s), in %.2f s\n\n",
                producers, support::with_commas(static_cast<std::uint64_t>(items)).c_str(), burst,
                workers, seconds);
    std::printf("  %-8s %12s %10s %10s %10s\n", "worker", "items", "parks", "unparks", "spurious");
    std::uint64_t parks = 0, unparks = 0;
    for (int w = 0; w < workers; ++w) {
        const ex::WorkerCounts& counts = pool.counts(static_cast<std::uint32_t>(w));
        const std::uint64_t spurious =
            pool.parker(static_cast<std::uint32_t>(w)).spurious_wakeups();
        std::printf("  %-8d %12s %10s %10s %10s\n", w, support::with_commas(counts.items).c_str(),
                    support::with_commas(counts.parks).c_str(),
                    support::with_commas(counts.unparks).c_str(),
                    support::with_commas(spurious).c_str());
        parks += counts.parks;
        unparks += counts.unparks;
    }
    std::printf(
        "\n  parks: calls of park(), the last one ended by the shutdown; unparks: wakes by a\n"
        "  notification (%s of %s parks); spurious: condition-variable wakeups with no token.\n\n",
        support::with_commas(unparks).c_str(), support::with_commas(parks).c_str());

    int missing = 0, twice = 0;
    for (const std::atomic<std::uint8_t>& count : handled) {
        if (count.load() == 0) ++missing;
        if (count.load() > 1) ++twice;
    }
    const bool ok = left == 0 && missing == 0 && twice == 0;
    if (left != 0) {
        std::printf(
            "BUG: %d item(s) still queued after %d s with every item pushed: a lost "
            "wakeup\n",
            left, patience_s);
    }
    if (twice != 0) std::printf("BUG: %d item(s) handled more than once\n", twice);
    std::printf("%s\n", ok ? "Every item was handled exactly once, and every worker shut down."
                           : "SOMETHING WENT WRONG (a bug).");
    return ok ? 0 : 1;
}
