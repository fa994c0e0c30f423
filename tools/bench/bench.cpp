// The benchmark program of tools/bench/WORKLOADS.md, one source for every stage from chapter 4
// on: the build compiles it once per stage, against that stage's rt/ (bench-04, bench-05,
// ...). Workloads a stage cannot run (timeout and http before chapter 6, spawn_remote before
// the stage whose executor hands out an rt::Handle) are found out at compile time and
// reported as unsupported.
//
// Output contract (WORKLOADS.md): `WORKLOAD [--threads N] [--port P]`; one `workload value
// unit` line per workload on stdout, the median of 7 timed repetitions after one warm-up;
// anything else on stderr; an unsupported workload is skipped under `all` and exits 2 when
// named. Every workload builds its runtime once and runs all its repetitions on it, as the
// Tokio program (tools/bench/tokio) does, so that no repetition pays for a new runtime.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"
#include "support/descriptors.hpp"
#include "support/resident_memory.hpp"

#if __has_include("rt/handle.hpp")  // rt::Handle, if the stage keeps it in a header of its own
#include "rt/handle.hpp"
#endif
#if __has_include("rt/runtime.hpp")  // rt::Runtime, with worker threads (chapter 8 on)
#include "rt/runtime.hpp"
#define BENCH_HAS_THREADS 1
#endif
#if __has_include("rt/timeout.hpp")
#include "rt/timeout.hpp"
#define BENCH_HAS_TIMEOUT 1
#endif
#if __has_include("rt/fs/fs.hpp")  // rt::spawn_blocking and rt::fs (chapter 9 on)
#include <unistd.h>
#include <filesystem>

#include "rt/fs/file.hpp"
#include "rt/fs/fs.hpp"
#define BENCH_HAS_BLOCKING 1
#endif
#if __has_include("rt/metrics/metrics.hpp")  // MetricsOptions (chapter 10 on)
#include "rt/metrics/metrics.hpp"
#define BENCH_HAS_METRICS 1
#endif
#if __has_include("http/server.hpp")
#include "http/server.hpp"
#include "rt/net/tcp_listener.hpp"
#define BENCH_HAS_HTTP 1
#endif

namespace {

using Clock = std::chrono::steady_clock;
constexpr int repetitions = 7;

/// Set by --threads (and --scheduling), before any workload runs.
int bench_threads = 0;

#ifdef BENCH_HAS_THREADS
bool shared_queue_requested = false;

/// The runtime every workload runs on: rt::Runtime with --threads workers (0: the
/// single-threaded executor), made the way --scheduling says.
#ifdef BENCH_HAS_METRICS
/// --metrics: what the runtime records beyond its workers' counters (chapter 10 on).
rt::MetricsOptions bench_metrics;
#endif

class BenchRuntime : public rt::Runtime {
public:
    BenchRuntime()
        : rt::Runtime(
              static_cast<std::size_t>(bench_threads),
              shared_queue_requested ? rt::Scheduling::shared_queue : rt::Scheduling::work_stealing
#ifdef BENCH_HAS_METRICS
              ,
              {}, bench_metrics
#endif
          ) {
    }
};
#else
/// The runtime every workload runs on: the stage's single-threaded executor.
class BenchRuntime : public rt::Executor {};
#endif

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
// once for every repetition, as the Tokio program builds its runtime once: each repetition is
// a block_on on the same executor, started by the main thread.
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
        BenchRuntime executor;
        for (;;) {
            start_.acquire();
            if (quit_) return;
            if (bench_threads == 0) {
                // The executor runs tasks only inside block_on: stay in it until the last.
                executor.block_on([this]() -> rt::Task<void> {
                    rt::spawn(spawner(this));
                    while (remaining_.load(std::memory_order_relaxed) != 0) {
                        co_await rt::yield_now();
                    }
                });
            } else {
                executor.block_on(spawner(this));  // the workers run the tasks meanwhile
            }
            finished_.release();
        }
    }

    // The tasks are coroutine functions whose parameters hold what they need: spawning the call
    // costs the frame only (one allocation from chapter 7 on), where a lambda that captures
    // costs a task to keep the lambda in, too (chapter 7, "Captures, and their lifetime").
    static rt::Task<void> spawner(SpawnMany* self) {
        for (std::size_t i = 0; i < n; ++i) rt::spawn(count_down(self));
        co_return;
    }
    static rt::Task<void> count_down(SpawnMany* self) {
        if (self->remaining_.fetch_sub(1, std::memory_order_relaxed) == 1) self->done_.release();
        co_return;
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

// ---- spawn_remote: from the main thread, which is not the runtime's, spawn 100,000 empty
// tasks through the executor's Handle, keeping the JoinHandles, then spawn (the same way) one
// more task that awaits them all in order and signals the main thread. The executor runs on a
// thread of its own, made once, in one block_on for all the repetitions: between the
// repetitions, and whenever it runs out of tasks, it is parked in epoll_wait, so each spawn
// takes the path a spawn from another thread takes: the executor's remote list, and the wake
// of its eventfd when it is parked; as tokio::runtime::Handle::spawn does from outside the
// runtime. Only for a stage whose executor has a handle() whose spawn(future) may be called
// from any thread (chapter 7's rt::Handle).
rt::Task<void> empty_task() { co_return; }

/// Whether `Executor` hands out a handle that spawns from other threads.
template <class Executor>
concept HasRemoteSpawn = requires(Executor& executor) {
    {executor.handle().spawn(empty_task())};
};

template <class Executor>
requires HasRemoteSpawn<Executor>
class SpawnRemote {
    using Handle = decltype(std::declval<Executor&>().handle());
    using Join = decltype(std::declval<Handle&>().spawn(empty_task()));

public:
    static constexpr std::size_t n = 100'000;

    SpawnRemote() : runtime_([this] { serve(); }) { ready_.acquire(); }
    ~SpawnRemote() {
        handle_->spawn(quit());  // ends the runtime thread's block_on
        runtime_.join();
    }

    double once() {
        const Clock::time_point start = Clock::now();
        std::vector<Join> joins;
        joins.reserve(n);
        for (std::size_t i = 0; i < n; ++i) joins.push_back(handle_->spawn(empty_task()));
        handle_->spawn(join_all(std::move(joins), done_));
        done_.acquire();
        return ns_since(start) / n;
    }

private:
    /// A task that awaits every JoinHandle in order, then signals the main thread. (A
    /// coroutine function's parameters live in its frame: nothing here can dangle.)
    static rt::Task<void> join_all(std::vector<Join> joins, std::binary_semaphore& done) {
        for (auto& join : joins) co_await join;
        done.release();
    }

    /// A task that ends the runtime thread's block_on.
    rt::Task<void> quit() {
        std::move(*quit_).send(1);
        co_return;
    }

    /// The runtime's thread: builds the executor, hands its Handle to the main thread, and
    /// runs the executor until quit() runs.
    void serve() {
        Executor executor;
        auto [quit_tx, quit_rx] = rt::sync::oneshot::channel<int>();
        quit_.emplace(std::move(quit_tx));
        handle_.emplace(executor.handle());
        ready_.release();
        executor.block_on([&quit_rx]() -> rt::Task<void> { co_await std::move(quit_rx); });
    }

    std::optional<Handle> handle_;  // set by the runtime's thread before ready_; kept until
                                    // this is destroyed, after the thread has ended
    std::optional<rt::sync::oneshot::Sender<int>> quit_;  // the runtime's thread only
    std::binary_semaphore ready_{0};                      // runtime -> main: handle_ is set
    std::binary_semaphore done_{0};  // join_all -> main: every task of the repetition ran
    std::thread runtime_;            // declared last: starts once the rest is built
};

template <class Executor = BenchRuntime>
double spawn_remote() {
    SpawnRemote<Executor> bench;
    return median_of([&bench] { return bench.once(); });
}

/// spawn_remote's figure for this stage's executor, or null where it cannot spawn remotely.
template <class Executor>
constexpr double (*spawn_remote_figure())() {
    if constexpr (HasRemoteSpawn<Executor>) {
        return &spawn_remote<Executor>;
    } else {
        return nullptr;
    }
}

// ---- yield_many: 200 tasks, each yielding 1,000 times.
rt::Task<void> yielder(int yields) {
    for (int i = 0; i < yields; ++i) co_await rt::yield_now();
}

double yield_many_once(BenchRuntime& executor) {
    constexpr int tasks = 200;
    constexpr int yields = 1000;
    const Clock::time_point start = Clock::now();
    executor.block_on([]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int t = 0; t < tasks; ++t) {
            handles.push_back(rt::spawn(yielder(yields)));
        }
        for (auto& handle : handles) co_await handle;
    });
    return ns_since(start) / (tasks * yields);
}

// ---- ping_pong: 10,000 tasks, each spawning a responder and exchanging two oneshots with it.
rt::Task<void> responder(rt::sync::oneshot::Receiver<int> ping,
                         rt::sync::oneshot::Sender<int> pong) {
    co_await std::move(ping);
    std::move(pong).send(1);
}

/// `Remaining`: a plain count on one thread (as in Tokio's current-thread program), an atomic
/// one with worker threads.
template <class Remaining>
rt::Task<void> pinger(Remaining* remaining, std::optional<rt::sync::oneshot::Sender<int>>* done) {
    auto [tx1, rx1] = rt::sync::oneshot::channel<int>();
    auto [tx2, rx2] = rt::sync::oneshot::channel<int>();
    rt::spawn(responder(std::move(rx1), std::move(tx2)));
    std::move(tx1).send(1);
    co_await std::move(rx2);
    if (--*remaining == 0) std::move(**done).send(1);
}

template <class Remaining>
rt::Task<void> ping_all(std::size_t pings) {
    Remaining remaining{pings};
    auto [done_tx, done_rx] = rt::sync::oneshot::channel<int>();
    std::optional<rt::sync::oneshot::Sender<int>> done(std::move(done_tx));
    for (std::size_t p = 0; p < pings; ++p) rt::spawn(pinger(&remaining, &done));
    co_await std::move(done_rx);
}

double ping_pong_once(BenchRuntime& executor) {
    constexpr std::size_t pings = 10'000;
    const Clock::time_point start = Clock::now();
    if (bench_threads == 0) {
        executor.block_on(ping_all<std::size_t>(pings));
    } else {
        executor.block_on(ping_all<std::atomic<std::size_t>>(pings));
    }
    return ns_since(start) / pings;
}

// ---- chained_spawn: a chain of 100,000 tasks, each spawning the next.
rt::Task<void> link(rt::sync::oneshot::Sender<int> done, std::size_t left);

void chain(rt::sync::oneshot::Sender<int> done, std::size_t left) {
    if (left == 0) {
        std::move(done).send(1);
        return;
    }
    rt::spawn(link(std::move(done), left));
}

rt::Task<void> link(rt::sync::oneshot::Sender<int> done, std::size_t left) {
    chain(std::move(done), left - 1);
    co_return;
}

double chained_spawn_once(BenchRuntime& executor) {
    constexpr std::size_t depth = 100'000;
    const Clock::time_point start = Clock::now();
    executor.block_on([]() -> rt::Task<void> {
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

double timeout_ready_once(BenchRuntime& executor) {
    constexpr std::size_t n = 1'000'000;
    const Clock::time_point start = Clock::now();
    executor.block_on([]() -> rt::Task<void> {
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
constexpr long sleepers = 100'000;

std::chrono::microseconds sleep_of(long i) {
    return std::chrono::microseconds((i * 7919) % 50'000);
}

rt::Task<void> sleeper(std::chrono::microseconds duration) { co_await rt::sleep(duration); }

double sleep_many_once(BenchRuntime& executor) {
    const Clock::time_point start = Clock::now();
    executor.block_on([]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        handles.reserve(sleepers);
        for (long i = 0; i < sleepers; ++i) {
            handles.push_back(rt::spawn(sleeper(sleep_of(i))));
        }
        for (auto& handle : handles) co_await handle;
    });
    return ns_since(start) / 1e6;
}

// ---- sleep_many --breakdown: where the time over the ideal 50 ms goes (docs/benchmarks.md).
// One more repetition, after the timed ones, on the same executor, with every sleeper noting
// when its sleep began (its first poll, which registers the timer) and when it woke; then a
// control repetition whose tasks do not sleep, to tell the cost of a task from that of its
// timer. Two clock reads per task make this repetition a little slower than the timed ones.

/// What getrusage says of this thread: CPU time, and how often another thread took its core.
struct ThreadUsage {
    double cpu_ms = 0;
    long preempted = 0;  // involuntary context switches

    ThreadUsage operator-(const ThreadUsage& before) const {
        return {cpu_ms - before.cpu_ms, preempted - before.preempted};
    }
};

ThreadUsage thread_usage() {
    rusage usage{};
    ::getrusage(RUSAGE_THREAD, &usage);
    const auto ms = [](const timeval& time) {
        return static_cast<double>(time.tv_sec) * 1e3 + static_cast<double>(time.tv_usec) / 1e3;
    };
    return {ms(usage.ru_utime) + ms(usage.ru_stime), usage.ru_nivcsw};
}

struct SleeperTimes {
    Clock::time_point slept;  // the first poll: the deadline is this plus the task's sleep
    Clock::time_point woke;   // the poll after the timer fired
};

/// Milliseconds from `from` to `to`.
double ms_between(Clock::time_point from, Clock::time_point to) {
    return std::chrono::duration<double, std::milli>(to - from).count();
}

void sleep_many_breakdown(BenchRuntime& executor) {
    std::vector<SleeperTimes> times(sleepers);
    Clock::time_point spawned;  // the root task has spawned every sleeper
    const ThreadUsage usage_before = thread_usage();
    const Clock::time_point start = Clock::now();
    executor.block_on([&times, &spawned]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        handles.reserve(sleepers);
        for (long i = 0; i < sleepers; ++i) {
            handles.push_back(
                rt::spawn([record = &times[i], duration = sleep_of(i)]() -> rt::Task<void> {
                    record->slept = Clock::now();
                    co_await rt::sleep(duration);
                    record->woke = Clock::now();
                }));
        }
        spawned = Clock::now();
        for (auto& handle : handles) co_await handle;
    });
    const Clock::time_point end = Clock::now();
    const ThreadUsage usage = thread_usage() - usage_before;

    // The control: the same tasks, polled once each, with no sleep.
    std::vector<Clock::time_point> polled(sleepers);
    Clock::time_point control_spawned;
    const Clock::time_point control_start = Clock::now();
    executor.block_on([&polled, &control_spawned]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        handles.reserve(sleepers);
        for (long i = 0; i < sleepers; ++i) {
            handles.push_back(rt::spawn([record = &polled[i]]() -> rt::Task<void> {
                *record = Clock::now();
                co_return;
            }));
        }
        control_spawned = Clock::now();
        for (auto& handle : handles) co_await handle;
    });

    Clock::time_point last_poll = spawned, last_deadline = start, last_wake = start;
    std::vector<double> late_ms;
    late_ms.reserve(sleepers);
    for (long i = 0; i < sleepers; ++i) {
        const Clock::time_point deadline = times[i].slept + sleep_of(i);
        last_poll = std::max(last_poll, times[i].slept);
        last_deadline = std::max(last_deadline, deadline);
        last_wake = std::max(last_wake, times[i].woke);
        late_ms.push_back(ms_between(deadline, times[i].woke));
    }
    std::sort(late_ms.begin(), late_ms.end());
    const auto late_at = [&late_ms](double fraction) {
        return late_ms[static_cast<std::size_t>(fraction *
                                                static_cast<double>(late_ms.size() - 1))];
    };
    const Clock::time_point control_last =
        std::max(control_spawned, *std::max_element(polled.begin(), polled.end()));
    std::fprintf(stderr,
                 "sleep_many breakdown (one instrumented repetition; ms from its start):\n"
                 "  %8.1f  the root task has spawned the 100,000 sleepers\n"
                 "  %8.1f  the last sleeper's first poll (its sleep begins, its timer registers)\n"
                 "  %8.1f  the latest deadline (a sleeper's first poll + its sleep)\n"
                 "  %8.1f  the last sleeper wakes\n"
                 "  %8.1f  the root task has awaited every JoinHandle: the total\n"
                 "  lateness, woken minus deadline: median %.2f ms, 99th percentile %.2f, "
                 "largest %.2f\n"
                 "  this thread's CPU time in the repetition: %.1f ms (getrusage); preempted "
                 "%ld times\n"
                 "  control, 100,000 tasks that do not sleep: spawned at %.1f ms, all polled "
                 "at %.1f ms\n",
                 ms_between(start, spawned), ms_between(start, last_poll),
                 ms_between(start, last_deadline), ms_between(start, last_wake),
                 ms_between(start, end), late_at(0.5), late_at(0.99), late_ms.back(), usage.cpu_ms,
                 usage.preempted, ms_between(control_start, control_spawned),
                 ms_between(control_start, control_last));
}

/// Set by --breakdown, before any workload runs.
bool breakdown_requested = false;

double sleep_many() {
    BenchRuntime executor;
    const double figure = median_of([&executor] { return sleep_many_once(executor); });
    if (breakdown_requested) sleep_many_breakdown(executor);
    return figure;
}

// ---- idle_memory: 1,000,000 tasks waiting on one event; resident memory per task.

/// An event that many tasks wait for: each waiter is a node inside its own future, linked into
/// the event's list, so waiting allocates nothing (as Tokio's Notify). A waiter is 40 bytes:
/// the event, two links, and the waker of its latest poll (a no-op waker until the first).
/// Its list is under a mutex, for the waiters of a multi-threaded runtime poll on any worker.
class Event {
public:
    class Wait {
    public:
        using Output = void;
        explicit Wait(Event& event) : event_(&event) {}
        Wait(Wait&& other) noexcept : event_(other.event_) {}  // only before the first poll
        ~Wait() {
            std::lock_guard lock(event_->mutex_);
            if (linked()) event_->unlink(this);
        }
        rt::Poll<void> poll(rt::Context& cx) {
            std::lock_guard lock(event_->mutex_);
            if (event_->set_) return rt::ready;
            if (!linked()) event_->link(this);
            if (!waker_.will_wake(cx.waker())) waker_ = cx.waker();
            return rt::pending;
        }

    private:
        friend class Event;
        bool linked() const { return prev_ != nullptr || event_->head_ == this; }

        Event* event_;
        Wait* prev_ = nullptr;
        Wait* next_ = nullptr;
        rt::Waker waker_ = rt::noop_waker();
    };

    Wait wait() { return Wait(*this); }

    void set() {
        std::lock_guard lock(mutex_);
        set_ = true;
        for (Wait* waiter = head_; waiter != nullptr; waiter = waiter->next_) {
            waiter->waker_.wake_by_ref();
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

    std::mutex mutex_;  // guards everything below, and every waiter's links and waker
    bool set_ = false;
    Wait* head_ = nullptr;
};

rt::Task<void> idle_task(Event* event, std::atomic<std::size_t>* started) {
    started->fetch_add(1, std::memory_order_relaxed);
    co_await event->wait();
}

double idle_memory_once() {
    constexpr std::size_t n = 1'000'000;
    Event event;
    std::atomic<std::size_t> started{0};
    BenchRuntime executor;
    const long before = support::resident_kb();
    std::vector<rt::JoinHandle<void>> handles =
        executor.block_on([&]() -> rt::Task<std::vector<rt::JoinHandle<void>>> {
            std::vector<rt::JoinHandle<void>> spawned;
            spawned.reserve(n);
            for (std::size_t i = 0; i < n; ++i) {
                spawned.push_back(rt::spawn(idle_task(&event, &started)));
            }
            while (started.load(std::memory_order_relaxed) < n) co_await rt::yield_now();
            co_return spawned;
        });
    const long after = support::resident_kb();
    executor.block_on([&]() -> rt::Task<void> {
        event.set();
        for (auto& handle : handles) co_await handle;
    });
    return static_cast<double>(after - before) * 1024.0 / n;
}

#ifdef BENCH_HAS_BLOCKING
// ---- blocking_many: from inside a task, hand 10,000 calls to the blocking pool (call i
// returns i), then await every handle in order and check the sum.
double blocking_many_once(BenchRuntime& executor) {
    constexpr std::size_t n = 10'000;
    const Clock::time_point start = Clock::now();
    const std::size_t sum = executor.block_on([]() -> rt::Task<std::size_t> {
        std::vector<rt::JoinHandle<std::size_t>> handles;
        handles.reserve(n);
        for (std::size_t i = 0; i < n; ++i)
            handles.push_back(rt::spawn_blocking([i] { return i; }));
        std::size_t total = 0;
        for (auto& handle : handles) total += co_await std::move(handle);
        co_return total;
    });
    const double elapsed = ns_since(start);
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "bench: blocking_many: wrong sum %zu\n", sum);
        std::exit(1);
    }
    return elapsed / n;
}

// ---- file_read: a 256 KiB file in the temporary directory (untimed), then, from inside a
// task, 1,000 times: File::open and read_to_end, checking the length. Microseconds per read.
class FileRead {
public:
    static constexpr std::size_t size = 256 * 1024;
    static constexpr int reads = 1'000;

    FileRead()
        : path_(std::filesystem::temp_directory_path() /
                ("rt-bench-file-read-" + std::to_string(::getpid()))) {
        std::FILE* file = std::fopen(path_.c_str(), "wb");
        if (file == nullptr) {
            std::perror(path_.c_str());
            std::exit(1);
        }
        std::vector<char> data(size, 'x');
        if (std::fwrite(data.data(), 1, size, file) != size || std::fclose(file) != 0) {
            std::perror(path_.c_str());
            std::exit(1);
        }
    }
    ~FileRead() {
        std::error_code ignored;
        std::filesystem::remove(path_, ignored);
    }

    double once(BenchRuntime& executor) {
        const Clock::time_point start = Clock::now();
        const bool intact = executor.block_on([this]() -> rt::Task<bool> {
            for (int i = 0; i < reads; ++i) {
                rt::fs::File file = co_await rt::fs::File::open(path_);
                std::vector<std::byte> contents;
                co_await file.read_to_end(contents);
                if (contents.size() != size) co_return false;
            }
            co_return true;
        });
        const double elapsed = ns_since(start);
        if (!intact) {
            std::fprintf(stderr, "bench: file_read: a read did not give %zu bytes\n", size);
            std::exit(1);
        }
        return elapsed / reads / 1000.0;
    }

private:
    std::filesystem::path path_;
};

double file_read() {
    FileRead workload;
    BenchRuntime executor;
    return median_of([&] { return workload.once(executor); });
}
#endif

#ifdef BENCH_HAS_HTTP
int serve_http(int port) {
    support::raise_descriptor_limit(65536);
    try {
        BenchRuntime runtime;
        runtime.block_on([port]() -> rt::Task<void> {
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

/// Starts and joins one thread, so that what follows runs as in any program that has threads.
/// Until a process starts its second thread, the C library and libstdc++ skip the atomic
/// operations that only another thread would need (glibc's __libc_single_threaded: the
/// malloc arena's lock, shared_ptr's reference counts, ...), and they never skip them again
/// afterwards. Without this, a workload run on its own would measure that shortcut, the same
/// workload run under `all` after spawn_many (which starts a thread) would not, and Tokio
/// (whose reference counts are always atomic) never has it; chapter 4's ping_pong nearly
/// doubles between the two (docs/benchmarks.md has the figures). The Tokio program does the
/// same.
void become_multithreaded() {
    std::thread([] {}).join();
}

/// The figure of a workload whose repetitions all run on one executor, built once: the
/// median of `once(executor)`.
template <double (*once)(BenchRuntime&)>
double on_one_executor() {
    BenchRuntime executor;
    return median_of([&executor] { return once(executor); });
}

struct Workload {
    const char* name;
    const char* unit;
    double (*figure)();   // the figure to report; null: not supported by this stage
    bool in_all;          // run by `all`
    const char* missing;  // when not supported: what the stage lacks
};

/// WORKLOADS.md's table, in its order (http is served, not measured: see main).
const std::vector<Workload>& workloads() {
    static const std::vector<Workload> table = {
        {"spawn_many", "ns/task", &spawn_many, true, ""},
        {"spawn_remote", "ns/task", spawn_remote_figure<BenchRuntime>(), true,
         "it needs an rt::Handle, from Executor::handle(), that spawns from other threads "
         "(chapter 7)"},
        {"yield_many", "ns/yield", &on_one_executor<&yield_many_once>, true, ""},
        {"ping_pong", "ns/ping", &on_one_executor<&ping_pong_once>, true, ""},
        {"chained_spawn", "ns/spawn", &on_one_executor<&chained_spawn_once>, true, ""},
#ifdef BENCH_HAS_TIMEOUT
        {"timeout_ready", "ns/op", &on_one_executor<&timeout_ready_once>, true, ""},
#else
        {"timeout_ready", "ns/op", nullptr, true, "it needs rt::timeout (chapter 6)"},
#endif
        {"sleep_many", "ms_total", &sleep_many, true, ""},
        {"idle_memory", "bytes/task", &idle_memory_once, false, ""},  // one repetition
#ifdef BENCH_HAS_BLOCKING
        {"blocking_many", "ns/op", &on_one_executor<&blocking_many_once>, true, ""},
        {"file_read", "us/read", &file_read, true, ""},
#else
        {"blocking_many", "ns/op", nullptr, true,
         "it needs a blocking pool, rt::spawn_blocking (chapter 9)"},
        {"file_read", "us/read", nullptr, true, "it needs async files, rt::fs (chapter 9)"},
#endif
    };
    return table;
}

}  // namespace

int main(int argc, char** argv) {
    std::string workload;
    int threads = 0;
    int port = 0;
    CLI::App app{
        "The benchmark workloads of tools/bench/WORKLOADS.md on this stage's runtime. Prints "
        "one 'workload value unit' line per workload (median of 7 repetitions after a "
        "warm-up); progress and messages go to stderr.",
        "bench"};
    app.add_option("workload", workload,
                   "spawn_many, spawn_remote, yield_many, ping_pong, chained_spawn, "
                   "timeout_ready, sleep_many, idle_memory, blocking_many, file_read, http, or "
                   "all (every one but idle_memory and http)")
        ->required();
    app.add_option("--threads", threads,
                   "0: the single-threaded runtime; N >= 1: the multi-threaded runtime with N "
                   "worker threads (chapter 8 on)")
        ->check(CLI::Range(0, 256))
        ->capture_default_str();
#ifdef BENCH_HAS_THREADS
    std::string scheduling = "work-stealing";
    app.add_option("--scheduling", scheduling,
                   "with --threads N >= 1: how the workers share tasks, work-stealing or "
                   "shared-queue (one queue under one mutex: chapter 8's first step)")
        ->check(CLI::IsMember({"work-stealing", "shared-queue"}))
        ->capture_default_str();
#endif
#ifdef BENCH_HAS_METRICS
    std::string metrics = "off";
    app.add_option("--metrics", metrics,
                   "what the runtime records beyond its workers' counters: off, or tasks "
                   "(per-task statistics and warnings; chapter 10)")
        ->check(CLI::IsMember({"off", "tasks"}))
        ->capture_default_str();
#endif
    app.add_option("--port", port, "port for the http workload")->check(CLI::Range(1, 65535));
    app.add_flag("--breakdown", breakdown_requested,
                 "sleep_many: after the figure, one instrumented repetition that shows where "
                 "the time goes, on stderr");
    app.footer("The workloads, the output and how to compare: tools/bench/WORKLOADS.md");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    become_multithreaded();
#ifdef BENCH_HAS_THREADS
    bench_threads = threads;
    shared_queue_requested = scheduling == "shared-queue";
#ifdef BENCH_HAS_METRICS
    bench_metrics.tasks = metrics == "tasks";
#endif
#else
    if (threads != 0) {
        std::fprintf(stderr,
                     "bench: --threads %d: this stage has only the single-threaded "
                     "runtime (--threads 0)\n",
                     threads);
        return support::usage_error;
    }
#endif
    if (workload == "http") {
#ifdef BENCH_HAS_HTTP
        if (port == 0) {
            std::fprintf(stderr, "bench: the http workload needs --port\n");
            return support::usage_error;
        }
        return serve_http(port);
#else
        std::fprintf(stderr,
                     "bench: http: not supported by this stage: it needs http/server.hpp "
                     "(chapter 6)\n");
        return support::usage_error;
#endif
    }
    bool found = false;
    for (const Workload& entry : workloads()) {
        const bool named = workload == entry.name;
        if (!named && !(workload == "all" && entry.in_all)) continue;
        found = true;
        if (entry.figure == nullptr) {
            std::fprintf(stderr, "bench: %s: not supported by this stage: %s\n", entry.name,
                         entry.missing);
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
