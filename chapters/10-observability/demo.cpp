// Chapter 10's demo: a runtime that watches itself. It runs a small mixed workload for a while
// with the runtime's task metrics on, then prints what the metrics saw: each worker's counters,
// the busiest tasks, and the warnings. Some of the workload misbehaves on purpose, one way per
// warning:
//  - "request" tasks, spawned all the time: each computes a little, sleeps 1 ms, and ends;
//  - "ticker": wakes every 100 ms on a timer;
//  - "cruncher": computes in slices and yields between them: it wakes only itself (self_wakes);
//  - "blocker": sleeps 20 ms inside its poll every half second, blocking its worker
//    (blocking_poll), where spawn_blocking was the right call;
//  - "forgetful": a future that returns pending without keeping its waker (lost_waker).
// Options:
//  - --console: the live view instead of the report, until q or Ctrl-C (console/console.hpp);
//  - --metrics-json FILE: a JSON snapshot at the end, and whenever the process gets SIGUSR1;
//  - --trace FILE: the timeline of every poll, wake and steal, for Perfetto or chrome://tracing.
// The counts and times are measured, and change from run to run.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "console/console.hpp"
#include "console/view.hpp"
#include "rt/coroutine.hpp"
#include "rt/metrics/snapshot.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"

namespace {

using std::chrono::milliseconds;

/// Work that takes the CPU for a moment: `rounds` steps of a xorshift.
std::uint64_t compute(std::uint64_t seed, int rounds) {
    for (int i = 0; i < rounds; ++i) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
    }
    return seed;
}

/// Returns pending and keeps no waker: the bug the lost_waker warning finds.
struct Forgetful {
    using Output = void;
    rt::Poll<void> poll(rt::Context&) { return rt::pending; }
};

rt::Task<void> request(std::uint64_t seed, std::atomic<std::uint64_t>* sink) {
    sink->fetch_add(compute(seed, 2'000), std::memory_order_relaxed);
    co_await rt::sleep(milliseconds(1));
    sink->fetch_add(compute(seed + 1, 2'000), std::memory_order_relaxed);
}

rt::Task<void> ticker(const std::atomic<bool>* stop) {
    while (!stop->load(std::memory_order_acquire)) co_await rt::sleep(milliseconds(100));
}

rt::Task<void> cruncher(const std::atomic<bool>* stop, std::atomic<std::uint64_t>* sink) {
    std::uint64_t value = 1;
    while (!stop->load(std::memory_order_acquire)) {
        value = compute(value, 20'000);
        co_await rt::yield_now();  // lets others run, but nothing ever wakes it but itself
    }
    sink->fetch_add(value, std::memory_order_relaxed);
}

rt::Task<void> blocker(const std::atomic<bool>* stop) {
    while (!stop->load(std::memory_order_acquire)) {
        // Wrong, on purpose: a blocking call inside a task stops its worker for 20 ms.
        std::this_thread::sleep_for(milliseconds(20));
        co_await rt::sleep(milliseconds(500));
    }
}

/// The whole workload: the misbehaving tasks, and requests spawned in waves until `wind_down`;
/// then `quiet` is set once the last wave has finished, and the long-lived tasks run on until
/// `stop`. The report is taken in between, so that it always sees the same tasks live.
rt::Task<void> workload(const std::atomic<bool>* wind_down, std::atomic<bool>* quiet,
                        const std::atomic<bool>* stop, std::atomic<std::uint64_t>* sink) {
    std::vector<rt::JoinHandle<void>> long_lived;
    long_lived.push_back(rt::spawn(rt::named("ticker", ticker(stop))));
    long_lived.push_back(rt::spawn(rt::named("cruncher", cruncher(stop, sink))));
    long_lived.push_back(rt::spawn(rt::named("blocker", blocker(stop))));
    auto lost = rt::spawn(rt::named("forgetful", Forgetful{}));  // never completes
    std::uint64_t seed = 1;
    while (!wind_down->load(std::memory_order_acquire)) {
        std::vector<rt::JoinHandle<void>> wave;
        for (int i = 0; i < 32; ++i)
            wave.push_back(rt::spawn(rt::named("request", request(++seed, sink))));
        for (auto& handle : wave) co_await std::move(handle);
        co_await rt::sleep(milliseconds(5));
    }
    quiet->store(true, std::memory_order_release);
    quiet->notify_all();
    for (auto& handle : long_lived) co_await std::move(handle);
    lost.abort();
}

/// A file to write at the end: opened (created) now, so that a path that cannot be written
/// is said before the run, not after it.
bool check_writable(const std::string& path, const char* what) {
    if (path.empty()) return true;
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        std::fprintf(stderr, "demo: cannot write the %s to %s: %s\n", what, path.c_str(),
                     std::strerror(errno));
        return false;
    }
    ::close(fd);
    return true;
}

bool write_snapshot(const rt::Runtime& runtime, const std::string& path) {
    if (rt::write_json(runtime.metrics(), path)) return true;
    std::fprintf(stderr, "demo: cannot write the snapshot to %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return false;
}

/// SIGUSR1 writes a snapshot while the demo runs: a thread waits for it with sigtimedwait
/// (SIGUSR1 is blocked in every thread, so that only this one takes it), and looks at `stop`
/// every 100 ms.
class SnapshotOnSignal {
public:
    SnapshotOnSignal(const rt::Runtime& runtime, std::string path)
        : thread_([this, &runtime, path = std::move(path)] {
              sigset_t usr1;
              sigemptyset(&usr1);
              sigaddset(&usr1, SIGUSR1);
              const timespec tick{0, 100'000'000};
              while (!stop_.load(std::memory_order_acquire)) {
                  if (::sigtimedwait(&usr1, nullptr, &tick) == SIGUSR1 &&
                      write_snapshot(runtime, path)) {
                      std::fprintf(stderr, "demo: snapshot written to %s\n", path.c_str());
                  }
              }
          }) {}
    ~SnapshotOnSignal() {
        stop_.store(true, std::memory_order_release);
        thread_.join();
    }

    /// Before any thread starts: SIGUSR1 blocked, so that the threads made later inherit it.
    static void block_in_every_thread() {
        sigset_t usr1;
        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        ::pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
    int workers = 2;
    int duration_ms = 2'000;
    bool live = false;
    int refresh_ms = 1'000;
    std::string json_path;
    std::string trace_path;
    int slow_us = 50;
    int blocking_ms = 10;
    CLI::App app{
        "Chapter 10: a runtime that watches itself. Runs a mixed workload (requests, a ticker, "
        "a task that yields in a loop, one that blocks its worker, one that loses its waker) "
        "with the runtime's task metrics on, then prints each worker's counters, the busiest "
        "tasks and the warnings.",
        "demo"};
    app.add_option("-w,--workers", workers, "worker threads (0: the single-threaded executor)")
        ->check(CLI::Range(0, 64))
        ->capture_default_str();
    app.add_option("-d,--duration", duration_ms, "how long the workload runs, in ms")
        ->check(CLI::Range(100, 600'000))
        ->capture_default_str();
    app.add_flag("--console", live,
                 "show the live console instead of the report, until q or Ctrl-C (the workload "
                 "runs until then)");
    app.add_option("--refresh", refresh_ms, "the console's refresh period, in ms")
        ->check(CLI::Range(50, 60'000))
        ->capture_default_str();
    app.add_option(
        "--metrics-json", json_path,
        "write a JSON snapshot (format rt-metrics 1) to FILE at the end, and on SIGUSR1");
    app.add_option("--trace", trace_path,
                   "write the timeline of every poll, wake and steal to FILE (Chrome trace-event "
                   "JSON: open it in ui.perfetto.dev or chrome://tracing)");
    app.add_option("--slow-us", slow_us, "a poll longer than this is slow, in us")
        ->check(CLI::Range(1, 10'000'000))
        ->capture_default_str();
    app.add_option("--blocking-ms", blocking_ms, "a poll longer than this blocks its worker, in ms")
        ->check(CLI::Range(1, 600'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    if (live && (::isatty(STDIN_FILENO) == 0 || ::isatty(STDOUT_FILENO) == 0)) {
        std::fprintf(stderr,
                     "demo: --console needs a terminal: run it without redirecting input or "
                     "output\n");
        return support::usage_error;
    }
    if (!check_writable(json_path, "snapshot") || !check_writable(trace_path, "timeline")) {
        return 1;
    }

    rt::MetricsOptions metrics;
    metrics.tasks = true;
    metrics.trace_file = trace_path;
    metrics.slow_poll = std::chrono::microseconds(slow_us);
    metrics.blocking_poll = milliseconds(blocking_ms);
    if (!json_path.empty()) SnapshotOnSignal::block_in_every_thread();
    if (live) console::block_quit_signals();  // for the console's thread to take them

    std::atomic<bool> wind_down{false};
    std::atomic<bool> quiet{false};
    std::atomic<bool> stop{false};
    std::atomic<std::uint64_t> sink{0};
    int status = 0;
    {
        rt::Runtime runtime(static_cast<std::size_t>(workers), metrics);
        std::optional<SnapshotOnSignal> on_signal;
        if (!json_path.empty()) on_signal.emplace(runtime, json_path);
        // The observer: the console, or a wait for the duration; then, once the last wave of
        // requests has finished, the last snapshot, and the stop. A thread of its own, beside
        // the runtime it watches (a snapshot may be taken from any thread), so that it also
        // watches the executor while block_on runs it.
        rt::MetricsSnapshot last;
        std::string console_error;
        std::thread observer([&] {
            if (live) {
                try {
                    console::RunOptions options;
                    options.refresh = milliseconds(refresh_ms);
                    console::run([&runtime] { return runtime.metrics(); }, options);
                } catch (const std::exception& error) {
                    console_error = error.what();
                }
            } else {
                std::this_thread::sleep_for(milliseconds(duration_ms));
            }
            wind_down.store(true, std::memory_order_release);
            quiet.wait(false, std::memory_order_acquire);
            last = runtime.metrics();
            stop.store(true, std::memory_order_release);
        });
        runtime.block_on(rt::named("workload", workload(&wind_down, &quiet, &stop, &sink)));
        observer.join();
        if (!console_error.empty()) {
            std::fprintf(stderr, "demo: %s\n", console_error.c_str());
            status = 1;
        }
        if (!live) {
            std::printf("%d worker%s, %.1f s of work\n\n", workers, workers == 1 ? "" : "s",
                        static_cast<double>(last.uptime_ns) / 1e9);
            console::ViewOptions view;
            view.live = false;
            view.width = 160;  // the warnings whole
            std::fputs(console::render(last, nullptr, view).c_str(), stdout);
        }
        if (!json_path.empty() && !write_snapshot(runtime, json_path)) status = 1;
    }  // the timeline is written here, as the runtime shuts down
    if (!trace_path.empty()) {
        std::printf("\nThe timeline is in %s: open it in ui.perfetto.dev or chrome://tracing\n",
                    trace_path.c_str());
    }
    return status;
}
