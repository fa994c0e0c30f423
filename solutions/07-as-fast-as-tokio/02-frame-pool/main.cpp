// Exercise 07-02's program: coroutine frames made and destroyed in bursts, as a runtime that
// spawns thousands of short tasks at once makes them, with ex::FramePool behind the promise's
// operator new, and without it (the same pool with a cap of zero keeps nothing, so every frame
// goes to operator new and back). It prints frames a second, and how many frames needed
// operator new, which this program counts by replacing it; every figure is measured. It checks
// every coroutine's result, and exits 0 if all were right.
#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include <frame_pool.hpp>
#include <lazy.hpp>

#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// Calls to operator new on this thread, and the size the latest one asked for.
thread_local std::uint64_t operator_news = 0;
thread_local std::size_t last_new_size = 0;

// Two coroutines with frames of two sizes, as a runtime has tasks of many. noinline: so that
// no compiler puts a frame on the caller's stack instead of allocating it.

[[gnu::noinline]] ex::Lazy<std::uint64_t> add(std::uint64_t a, std::uint64_t b) { co_return a + b; }

/// A coroutine with a buffer in its frame (a task holding a small request, say), which it
/// hardly uses: the work of a frame is not what is measured, its memory is.
[[gnu::noinline]] ex::Lazy<std::uint64_t> with_buffer(std::uint64_t seed) {
    unsigned char buffer[256];
    buffer[seed % 256] = static_cast<unsigned char>(seed);
    co_await std::suspend_never{};  // the buffer lives across a suspension point: in the frame
    co_return seed + buffer[seed % 256];
}

/// The bytes operator new gives a frame of `make()`'s coroutine, pool off: its block's size.
template <class Make>
std::size_t frame_block(Make make) {
    const std::size_t cap = ex::FramePool::max_cached();
    ex::FramePool::set_max_cached(0);
    { auto job = make(); }
    ex::FramePool::set_max_cached(cap);
    return last_new_size;
}

struct Measured {
    std::uint64_t frames = 0;  // coroutines made, run and destroyed
    std::uint64_t news = 0;    // calls to operator new meanwhile
    double seconds = 0;
    bool right = true;  // every result was the expected one
};

/// Bursts of `burst` coroutines, half of each kind, all alive at once, then run and destroyed,
/// for `duration`.
Measured bursts(std::chrono::milliseconds duration, int burst) {
    Measured m;
    std::vector<ex::Lazy<std::uint64_t>> jobs;
    jobs.reserve(static_cast<std::size_t>(burst));
    std::uint64_t seed = 0;
    const std::uint64_t news_before = operator_news;
    const auto start = Clock::now();
    const auto end = start + duration;
    do {
        const std::uint64_t first = seed;
        for (int i = 0; i < burst; ++i, ++seed) {
            jobs.push_back(i % 2 == 0 ? add(seed, 1) : with_buffer(seed));
        }
        std::uint64_t n = first;
        for (ex::Lazy<std::uint64_t>& job : jobs) {
            const std::uint64_t want = (n - first) % 2 == 0 ? n + 1 : n + (n & 0xff);
            if (job.get() != want) m.right = false;
            ++n;
        }
        jobs.clear();  // every frame destroyed
        m.frames += static_cast<std::uint64_t>(burst);
    } while (Clock::now() < end);
    m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    m.news = operator_news - news_before;
    return m;
}

}  // namespace

// This program's operator new: malloc, counted on each thread. operator delete: free. Never
// inlined: the compiler would then see memory from operator new given to free, and warn.
[[gnu::noinline]] void* operator new(std::size_t size) {
    ++operator_news;
    last_new_size = size;
    if (void* block = std::malloc(size == 0 ? 1 : size)) return block;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* block) noexcept { std::free(block); }
[[gnu::noinline]] void operator delete(void* block, std::size_t) noexcept { std::free(block); }

int main(int argc, char** argv) {
    int burst = 10'000;
    int duration_ms = 500;
    int cap_kib = static_cast<int>(ex::FramePool::default_max_cached >> 10);

    CLI::App app{
        "Exercise 07-02: coroutine frames from a per-thread size-class pool. Makes BURST "
        "coroutines at once (of two kinds, with frames of two sizes), runs them, destroys them, "
        "and again, for DURATION ms: first with every frame from operator new (the pool with a "
        "cap of zero), then from ex::FramePool keeping up to CAP KiB. Prints frames a second, "
        "and how many frames needed operator new.",
        "solution-07-02"};
    app.add_option("-b,--burst", burst, "coroutines alive at once")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("-d,--duration-ms", duration_ms, "how long each measurement runs, in ms")
        ->check(CLI::Range(10, 60'000))
        ->capture_default_str();
    app.add_option("-c,--max-cached-kib", cap_kib, "what the pool may keep, in KiB")
        ->check(CLI::Range(0, 4 << 20))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const std::chrono::milliseconds duration(duration_ms);
    const std::size_t small = frame_block([] { return add(1, 2); });
    const std::size_t large = frame_block([] { return with_buffer(3); });
    std::printf(
        "Coroutine frames in bursts of %s: half of %zu-byte blocks, half of %zu,\n"
        "for %d ms each way\n\n",
        support::with_commas(static_cast<std::uint64_t>(burst)).c_str(), small, large, duration_ms);
    std::printf("  %-32s %16s %12s %20s %14s\n", "frames from", "frames a second", "ns a frame",
                "operator new calls", "from the pool");

    bool right = true;
    double ns[2] = {0, 0};
    for (int pooled = 0; pooled < 2; ++pooled) {
        ex::FramePool::set_max_cached(pooled != 0 ? static_cast<std::size_t>(cap_kib) << 10 : 0);
        const Measured m = bursts(duration, burst);
        right = right && m.right;
        ns[pooled] = m.seconds * 1e9 / static_cast<double>(m.frames);
        char label[64];
        if (pooled != 0) {
            std::snprintf(label, sizeof label, "ex::FramePool (cap %s KiB)",
                          support::with_commas(static_cast<std::uint64_t>(cap_kib)).c_str());
        } else {
            std::snprintf(label, sizeof label, "operator new (a cap of 0)");
        }
        const double from_pool =
            m.frames == 0 ? 0
                          : 100.0 * static_cast<double>(m.frames - std::min(m.news, m.frames)) /
                                static_cast<double>(m.frames);
        std::printf("  %-32s %14.1f M %12.1f %20s %12.1f %%\n", label,
                    static_cast<double>(m.frames) / m.seconds / 1e6, ns[pooled],
                    support::with_commas(m.news).c_str(), from_pool);
    }
    std::printf(
        "\nWith the pool, a frame took %.2fx the time it took from operator new; this\n"
        "thread keeps %s KiB of blocks now, for the next burst.\n",
        ns[1] / ns[0], support::with_commas(ex::FramePool::cached_bytes() >> 10).c_str());
    if (!right) std::printf("SOMETHING WENT WRONG: a coroutine gave a wrong result (a bug).\n");
    return right ? 0 : 1;
}
