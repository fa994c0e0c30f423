// Chapter 9's demo: blocking work, wrongly and rightly, and files.
//  1. the seed's file example, line for line: File::open, then read_to_end, then print what
//     was read. The file is FILE if given, otherwise one the demo writes (and removes) in the
//     temporary directory;
//  2. a ticker task that wants to tick every TICK ms, beside CALLS tasks that each make a call
//     blocking for BLOCK ms, on WORKERS workers: first with the calls made inside the tasks
//     (wrongly: the thread that runs them stops), then handed to spawn_blocking (rightly). For
//     each, how late the ticker was at worst: the stall its neighbours suffered;
//  3. what the blocking pool did: the threads it started, the calls it ran.
// The lateness is measured, and changes from run to run; the calls and threads do not.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/fs/file.hpp"
#include "rt/fs/fs.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// The work that blocks: here a sleep, standing for a read of a slow disk or a long computation.
int blocking_work(milliseconds duration) {
    std::this_thread::sleep_for(duration);
    return 1;
}

/// Ticks every `tick` until `stop`, and returns how late its latest tick was, at worst, in ms.
rt::Task<double> ticker(milliseconds tick, const std::atomic<bool>* stop) {
    double worst = 0;
    Clock::time_point next = Clock::now() + tick;
    while (!stop->load(std::memory_order_acquire)) {
        co_await rt::sleep_until(next);
        const double late = std::chrono::duration<double, std::milli>(Clock::now() - next).count();
        worst = std::max(worst, late);
        next += tick;
        // A stall of several ticks is one lateness, not a backlog of them.
        next = std::max(next, Clock::now());
    }
    co_return worst;
}

/// Part 2, once: the ticker beside `calls` tasks that block for `block` each, inside the task
/// or on the pool. Returns the ticker's worst lateness in ms.
double ticker_beside_blocking(rt::Runtime& runtime, int calls, milliseconds block,
                              milliseconds tick, bool use_pool) {
    return runtime.block_on([=]() -> rt::Task<double> {
        std::atomic<bool> stop{false};
        auto ticks = rt::spawn(ticker(tick, &stop));
        co_await rt::sleep(tick * 2);  // the ticker has started
        std::vector<rt::JoinHandle<int>> tasks;
        for (int i = 0; i < calls; ++i) {
            tasks.push_back(rt::spawn([](milliseconds block, bool use_pool) -> rt::Task<int> {
                if (use_pool)
                    co_return co_await rt::spawn_blocking([block] { return blocking_work(block); });
                co_return blocking_work(block);  // wrong: the worker thread sleeps
            }(block, use_pool)));
        }
        int done = 0;
        for (auto& task : tasks) done += co_await std::move(task);
        stop.store(true, std::memory_order_release);
        const double worst = co_await std::move(ticks);
        co_return done == calls ? worst : -1.0;
    });
}

/// Part 1: the seed's example. Returns false (with a message) if the file cannot be read.
bool read_like_the_seed(rt::Runtime& runtime, const std::filesystem::path& path) {
    try {
        runtime.block_on([path]() -> rt::Task<void> {
            rt::fs::File file = co_await rt::fs::File::open(path);
            std::vector<std::byte> contents;
            co_await file.read_to_end(contents);
            const std::string text(reinterpret_cast<const char*>(contents.data()), contents.size());
            std::printf("  File contents: %zu bytes: \"", contents.size());
            for (char c : text.substr(0, 60)) {
                if (c == '\n') {
                    std::printf("\\n");
                } else if (c >= 32 && c < 127) {
                    std::putchar(c);
                } else {
                    std::printf("\\x%02x", static_cast<unsigned char>(c));
                }
            }
            std::printf(text.size() > 60 ? "...\"\n" : "\"\n");
        });
    } catch (const std::filesystem::filesystem_error& error) {
        std::fprintf(stderr, "demo: %s\n", error.what());
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    int workers = 1;
    int calls = 4;
    int block_ms = 50;
    int tick_ms = 5;
    std::string file;
    CLI::App app{
        "Chapter 9: blocking work and files. Reads a file as the seed's example does "
        "(File::open, then read_to_end); then runs a ticker that wants to tick every TICK ms "
        "beside CALLS tasks that each block for BLOCK ms, first inside the tasks and then on "
        "the blocking pool, and prints how late the ticker was at worst each time.",
        "demo"};
    app.add_option("-w,--workers", workers, "worker threads")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("--calls", calls, "tasks that each make one blocking call")
        ->check(CLI::Range(1, 512))
        ->capture_default_str();
    app.add_option("--block", block_ms, "how long each call blocks, in ms")
        ->check(CLI::Range(1, 10'000))
        ->capture_default_str();
    app.add_option("--tick", tick_ms, "the ticker's period, in ms")
        ->check(CLI::Range(1, 1'000))
        ->capture_default_str();
    app.add_option("--file", file, "the file to read (default: one the demo writes)");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    rt::Runtime runtime(static_cast<std::size_t>(workers));

    std::filesystem::path path = file;
    const bool own_file = file.empty();
    if (own_file) {
        path =
            std::filesystem::temp_directory_path() / ("foo-" + std::to_string(::getpid()) + ".txt");
        runtime.block_on([path]() -> rt::Task<void> {
            co_await rt::fs::write(path, "Hello from a file, read on the blocking pool.\n");
        });
    }
    std::printf("The seed's example: File::open(\"%s\"), then read_to_end\n",
                own_file ? "foo.txt" : file.c_str());
    const bool read = read_like_the_seed(runtime, path);
    if (own_file) {
        std::error_code ignored;
        std::filesystem::remove(path, ignored);
    }
    if (!read) return 1;

    const milliseconds block(block_ms);
    const milliseconds tick(tick_ms);
    std::printf(
        "\nA ticker every %d ms beside %d calls that block for %d ms each, on %d worker%s\n",
        tick_ms, calls, block_ms, workers, workers == 1 ? "" : "s");
    const auto before = runtime.blocking_stats();
    const double wrong = ticker_beside_blocking(runtime, calls, block, tick, false);
    const double right = ticker_beside_blocking(runtime, calls, block, tick, true);
    const auto after = runtime.blocking_stats();
    std::printf("  blocking inside the tasks:  the ticker was late by up to %.1f ms\n", wrong);
    std::printf("  with spawn_blocking:        the ticker was late by up to %.1f ms\n", right);
    std::printf("  the blocking pool ran the %llu calls on %zu threads of its own\n",
                static_cast<unsigned long long>(after.calls - before.calls), after.threads);
    return 0;
}
