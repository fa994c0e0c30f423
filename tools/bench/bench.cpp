// The benchmark program of ../shared/bench/SPEC.md, one source for every stage from chapter 4
// on: the build compiles it once per stage, against that stage's rt/ (bench-04, bench-05,
// ...). Workloads a stage cannot run (timeout before chapter 6, http before chapter 6) are
// found out at compile time and reported as unsupported.
//
// Output contract (SPEC.md): `WORKLOAD [--threads N] [--port P]`; one `workload value unit`
// line per workload on stdout, the median of 7 timed repetitions after one warm-up; anything
// else on stderr; an unsupported workload is skipped under `all` and exits 2 when named.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"
#include "support/descriptors.hpp"

#if __has_include("rt/timeout.hpp")
#include "rt/timeout.hpp"
#define BENCH_HAS_TIMEOUT 1
#endif
#if __has_include("http/server.hpp")
#include "http/server.hpp"
#include "rt/net/tcp_listener.hpp"
#define BENCH_HAS_HTTP 1
#endif

namespace {

using Clock = std::chrono::steady_clock;
constexpr int repetitions = 7;

/// Nanoseconds since `start`.
double ns_since(Clock::time_point start) {
    return std::chrono::duration<double, std::nano>(Clock::now() - start).count();
}

/// Run `once` (which returns its own measurement) once to warm up, then `repetitions` times,
/// and return the median.
double median_of(const std::function<double()>& once) {
    once();
    std::vector<double> samples;
    for (int i = 0; i < repetitions; ++i) samples.push_back(once());
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

void report(const char* workload, double value, const char* unit) {
    std::printf("%s %.1f %s\n", workload, value, unit);
    std::fflush(stdout);
}

// ---- spawn_many: spawn 100,000 tasks from inside a task; the last one signals the main
// thread, which waits on a blocking semaphore. The runtime runs on a thread of its own, made
// once for every repetition, as the Tokio peer builds its runtime once: each repetition is a
// block_on on the same executor, started by the main thread.
class SpawnMany {
public:
    static constexpr std::size_t n = 100'000;

    SpawnMany() : runtime_([this] { serve(); }) {}
    ~SpawnMany() {
        quit_ = true;
        start_.release();
        runtime_.join();
    }

    double once() {
        remaining_.store(n, std::memory_order_relaxed);
        const Clock::time_point start = Clock::now();
        start_.release();
        done_.acquire();
        const double elapsed = ns_since(start);
        finished_.acquire();  // the block_on has returned: the next repetition may start
        return elapsed / n;
    }

private:
    void serve() {
        rt::Executor executor;
        for (;;) {
            start_.acquire();
            if (quit_) return;
            executor.block_on([this]() -> rt::Task<void> {
                rt::spawn([this]() -> rt::Task<void> {
                    for (std::size_t i = 0; i < n; ++i) {
                        rt::spawn([this]() -> rt::Task<void> {
                            if (remaining_.fetch_sub(1, std::memory_order_relaxed) == 1) {
                                done_.release();
                            }
                            co_return;
                        });
                    }
                    co_return;
                });
                while (remaining_.load(std::memory_order_relaxed) != 0) co_await rt::yield_now();
            });
            finished_.release();
        }
    }

    std::atomic<std::size_t> remaining_{0};
    std::binary_semaphore start_{0};     // main -> runtime: run one repetition (or quit)
    std::binary_semaphore done_{0};      // the last task -> main: every task has run
    std::binary_semaphore finished_{0};  // runtime -> main: the repetition's block_on returned
    bool quit_ = false;                  // written before start_.release(), read after acquire
    std::thread runtime_;                // declared last: starts once the rest is built
};

double spawn_many() {
    SpawnMany bench;
    return median_of([&bench] { return bench.once(); });
}

// ---- spawn_remote: spawn 100,000 empty tasks from outside the runtime, keeping the handles,
// then await them all in order.
double spawn_remote_once() {
    constexpr std::size_t n = 100'000;
    const Clock::time_point start = Clock::now();
    rt::Executor executor;
    std::vector<rt::JoinHandle<void>> handles;
    handles.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        handles.push_back(executor.spawn([]() -> rt::Task<void> { co_return; }));
    }
    executor.block_on([&handles]() -> rt::Task<void> {
        for (auto& handle : handles) co_await handle;
    });
    return ns_since(start) / n;
}

// ---- yield_many: 200 tasks, each yielding 1,000 times.
double yield_many_once() {
    constexpr int tasks = 200;
    constexpr int yields = 1000;
    const Clock::time_point start = Clock::now();
    rt::block_on([]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int t = 0; t < tasks; ++t) {
            handles.push_back(rt::spawn([]() -> rt::Task<void> {
                for (int i = 0; i < yields; ++i) co_await rt::yield_now();
            }));
        }
        for (auto& handle : handles) co_await handle;
    });
    return ns_since(start) / (tasks * yields);
}

// ---- ping_pong: 10,000 tasks, each spawning a responder and exchanging two oneshots with it.
double ping_pong_once() {
    constexpr std::size_t pings = 10'000;
    const Clock::time_point start = Clock::now();
    rt::block_on([]() -> rt::Task<void> {
        std::size_t remaining = pings;  // one thread: no atomic needed, as in Tokio's 1-thread
        auto [done_tx, done_rx] = rt::sync::oneshot::channel<int>();
        std::optional<rt::sync::oneshot::Sender<int>> done(std::move(done_tx));
        for (std::size_t p = 0; p < pings; ++p) {
            rt::spawn([&remaining, &done]() -> rt::Task<void> {
                auto [tx1, rx1] = rt::sync::oneshot::channel<int>();
                auto [tx2, rx2] = rt::sync::oneshot::channel<int>();
                rt::spawn([rx1 = std::move(rx1), tx2 = std::move(tx2)]() mutable -> rt::Task<void> {
                    co_await std::move(rx1);
                    std::move(tx2).send(1);
                });
                std::move(tx1).send(1);
                co_await std::move(rx2);
                if (--remaining == 0) std::move(*done).send(1);
            });
        }
        co_await std::move(done_rx);
    });
    return ns_since(start) / pings;
}

// ---- chained_spawn: a chain of 100,000 tasks, each spawning the next.
void chain(rt::sync::oneshot::Sender<int> done, std::size_t left) {
    if (left == 0) {
        std::move(done).send(1);
        return;
    }
    rt::spawn([done = std::move(done), left]() mutable -> rt::Task<void> {
        chain(std::move(done), left - 1);
        co_return;
    });
}

double chained_spawn_once() {
    constexpr std::size_t depth = 100'000;
    const Clock::time_point start = Clock::now();
    rt::block_on([]() -> rt::Task<void> {
        auto [tx, rx] = rt::sync::oneshot::channel<int>();
        chain(std::move(tx), depth);
        co_await std::move(rx);
    });
    return ns_since(start) / depth;
}

#ifdef BENCH_HAS_TIMEOUT
// ---- timeout_ready: 1,000,000 timeouts of a future that is ready at once.
struct ReadyValue {
    using Output = std::size_t;
    std::size_t value;
    rt::Poll<std::size_t> poll(rt::Context&) { return value; }
};

double timeout_ready_once() {
    constexpr std::size_t n = 1'000'000;
    const Clock::time_point start = Clock::now();
    rt::block_on([]() -> rt::Task<void> {
        co_await rt::spawn([]() -> rt::Task<void> {
            std::size_t sum = 0;
            for (std::size_t i = 0; i < n; ++i) {
                sum += *co_await rt::timeout(std::chrono::seconds(1), ReadyValue{i});
            }
            if (sum == 0) std::fprintf(stderr, "impossible\n");  // keeps the loop's work
        });
    });
    return ns_since(start) / n;
}
#endif

// ---- sleep_many: 100,000 tasks, task i sleeping (i * 7919) mod 50,000 microseconds.
double sleep_many_once() {
    constexpr long n = 100'000;
    const Clock::time_point start = Clock::now();
    rt::block_on([]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        handles.reserve(n);
        for (long i = 0; i < n; ++i) {
            const auto duration = std::chrono::microseconds((i * 7919) % 50'000);
            handles.push_back(
                rt::spawn([duration]() -> rt::Task<void> { co_await rt::sleep(duration); }));
        }
        for (auto& handle : handles) co_await handle;
    });
    return ns_since(start) / 1e6;
}

// ---- idle_memory: 1,000,000 tasks waiting on one event; resident memory per task.
long rss_kb() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return 0;
}

/// An event that many tasks wait for: each waiter is a node inside its own future, linked into
/// the event's list, so waiting allocates nothing (as Tokio's broadcast receiver, roughly).
class Event {
public:
    class Wait {
    public:
        using Output = void;
        explicit Wait(Event& event) : event_(&event) {}
        Wait(Wait&& other) noexcept : event_(other.event_) {}  // only before the first poll
        ~Wait() {
            if (linked_) event_->unlink(this);
        }
        rt::Poll<void> poll(rt::Context& cx) {
            if (event_->set_) return rt::ready;
            if (!linked_) {
                event_->link(this);
                linked_ = true;
            }
            waker_ = cx.waker();
            return rt::pending;
        }

    private:
        friend class Event;
        Event* event_;
        Wait* prev_ = nullptr;
        Wait* next_ = nullptr;
        bool linked_ = false;
        std::optional<rt::Waker> waker_;
    };

    Wait wait() { return Wait(*this); }

    void set() {
        set_ = true;
        for (Wait* waiter = head_; waiter != nullptr; waiter = waiter->next_) {
            if (waiter->waker_) waiter->waker_->wake_by_ref();
        }
    }

private:
    void link(Wait* waiter) {
        waiter->next_ = head_;
        if (head_ != nullptr) head_->prev_ = waiter;
        head_ = waiter;
    }
    void unlink(Wait* waiter) {
        if (waiter->prev_ != nullptr)
            waiter->prev_->next_ = waiter->next_;
        else
            head_ = waiter->next_;
        if (waiter->next_ != nullptr) waiter->next_->prev_ = waiter->prev_;
    }

    bool set_ = false;
    Wait* head_ = nullptr;
};

double idle_memory_once() {
    constexpr std::size_t n = 1'000'000;
    const long before = rss_kb();
    Event event;
    std::size_t started = 0;
    rt::Executor executor;
    std::vector<rt::JoinHandle<void>> handles =
        executor.block_on([&]() -> rt::Task<std::vector<rt::JoinHandle<void>>> {
            std::vector<rt::JoinHandle<void>> spawned;
            spawned.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                spawned.push_back(rt::spawn([&event, &started]() -> rt::Task<void> {
                    ++started;
                    co_await event.wait();
                }));
            }
            while (started < n) co_await rt::yield_now();
            co_return spawned;
        });
    const long after = rss_kb();
    executor.block_on([&]() -> rt::Task<void> {
        event.set();
        for (auto& handle : handles) co_await handle;
    });
    return static_cast<double>(after - before) * 1024.0 / n;
}

#ifdef BENCH_HAS_HTTP
int serve_http(int port) {
    support::raise_descriptor_limit(65536);
    try {
        rt::block_on([port]() -> rt::Task<void> {
            rt::net::TcpListener listener =
                rt::net::TcpListener::bind("127.0.0.1:" + std::to_string(port));
            std::fprintf(stderr, "serving HTTP/1.1 on 127.0.0.1:%d\n", port);
            co_await http::serve(std::move(listener));
        });
    } catch (const std::exception& error) {
        std::fprintf(stderr, "bench: %s\n", error.what());
        return 1;
    }
    return 0;
}
#endif

/// The figure of a workload whose repetitions are independent: the median of `once`.
template <double (*once)()>
double repeated() {
    return median_of(once);
}

struct Workload {
    const char* name;
    const char* unit;
    double (*figure)();  // the figure to report; null: not supported by this stage
    bool in_all;
};

const std::vector<Workload>& workloads() {
    static const std::vector<Workload> table = {
        {"spawn_many", "ns/task", &spawn_many, true},
        {"spawn_remote", "ns/task", &repeated<&spawn_remote_once>, true},
        {"yield_many", "ns/yield", &repeated<&yield_many_once>, true},
        {"ping_pong", "ns/ping", &repeated<&ping_pong_once>, true},
        {"chained_spawn", "ns/spawn", &repeated<&chained_spawn_once>, true},
#ifdef BENCH_HAS_TIMEOUT
        {"timeout_ready", "ns/op", &repeated<&timeout_ready_once>, true},
#else
        {"timeout_ready", "ns/op", nullptr, true},
#endif
        {"sleep_many", "ms_total", &repeated<&sleep_many_once>, true},
        {"idle_memory", "bytes/task", &idle_memory_once, false}  // one repetition (SPEC.md),
    };
    return table;
}

}  // namespace

int main(int argc, char** argv) {
    std::string workload;
    int threads = 0;
    int port = 0;
    CLI::App app{
        "The benchmark workloads of shared/bench/SPEC.md on this stage's runtime. Prints one "
        "'workload value unit' line per workload (median of 7 repetitions after a warm-up).",
        "bench"};
    app.add_option("workload", workload,
                   "spawn_many, spawn_remote, yield_many, ping_pong, chained_spawn, "
                   "timeout_ready, sleep_many, idle_memory, http, or all")
        ->required();
    app.add_option("--threads", threads,
                   "0: the single-threaded runtime; N >= 1 needs the multi-threaded runtime "
                   "(chapter 7)")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
    app.add_option("--port", port, "port for the http workload")->check(CLI::Range(1, 65535));
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    if (threads != 0) {
        std::fprintf(stderr,
                     "bench: --threads %d: this stage has only the single-threaded "
                     "runtime (--threads 0)\n",
                     threads);
        return support::usage_error;
    }
    if (workload == "http") {
#ifdef BENCH_HAS_HTTP
        if (port == 0) {
            std::fprintf(stderr, "bench: the http workload needs --port\n");
            return support::usage_error;
        }
        return serve_http(port);
#else
        std::fprintf(stderr,
                     "bench: http: not supported by this stage (HTTP runs from chapter 6)\n");
        return support::usage_error;
#endif
    }
    bool found = false;
    for (const Workload& entry : workloads()) {
        const bool named = workload == entry.name;
        if (!named && !(workload == "all" && entry.in_all)) continue;
        found = true;
        if (entry.figure == nullptr) {
            std::fprintf(stderr, "bench: %s: not supported by this stage\n", entry.name);
            if (named) return support::usage_error;
            continue;
        }
        std::fprintf(stderr, "bench: running %s\n", entry.name);
        report(entry.name, entry.figure(), entry.unit);
    }
    if (!found) {
        std::fprintf(stderr, "bench: unknown workload '%s'; run with --help for the list\n",
                     workload.c_str());
        return support::usage_error;
    }
    return 0;
}
