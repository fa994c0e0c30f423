// Exercise 09-01's program: CALLS tasks each make one blocking call (a sleep of BLOCK ms, then
// a value computed from the task's number) and await its result, while a ticker task ticks
// every 10 ms on the same single-threaded runtime. By default the calls go to an
// ex::BlockingPool of at most THREADS threads: the results come back in waves of THREADS, and
// the ticker keeps ticking. With --on-runtime, each task makes its call itself, on the runtime's
// one thread, as if there were no pool: the ticker stands still until every call is done.
// Prints each result as it comes back with the ticks so far, then the totals; exits 0 when
// every result is right.
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <blocking_pool.hpp>

#include "rt/coroutine.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// What every task of the program shares. One thread runs them all (Runtime(0)), so plain
/// fields will do.
struct Shared {
    ex::BlockingPool& pool;
    int block_ms;
    bool on_runtime;  // make the calls in the tasks themselves, without the pool
    Clock::time_point start = Clock::now();
    int ticks = 0;      // the ticker's, so far
    bool done = false;  // every call is back: the ticker stops
};

/// The blocking call: sleeps, then squares `id`.
long blocking_square(int id, int block_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(block_ms));  // blocks its thread
    return static_cast<long>(id) * id;
}

/// Task `id`: one blocking call, awaited (or made right here, with --on-runtime); true if its
/// result is right.
rt::Task<bool> caller(Shared& shared, int id) {
    long result = 0;
    if (shared.on_runtime) {
        result = blocking_square(id, shared.block_ms);  // the runtime's thread waits meanwhile
    } else {
        ex::BlockingHandle<long> handle = shared.pool.spawn(
            [id, block_ms = shared.block_ms] { return blocking_square(id, block_ms); });
        result = co_await handle;  // suspends this task only
    }
    std::printf("[%6.3f s]  call %3d returned %6ld   (ticks so far: %d)\n",
                seconds_since(shared.start), id, result, shared.ticks);
    co_return result == static_cast<long>(id) * id;
}

/// Ticks every 10 ms until every call is back.
rt::Task<void> ticker(Shared& shared) {
    while (!shared.done) {
        co_await rt::sleep(std::chrono::milliseconds(10));
        ++shared.ticks;
    }
}

/// Runs the callers beside the ticker; how many results were wrong.
rt::Task<int> run(Shared& shared, int calls) {
    rt::Task<void> ticking = ticker(shared);
    rt::JoinHandle<void> ticker_handle = rt::spawn(std::move(ticking));
    std::vector<rt::JoinHandle<bool>> callers;
    for (int id = 1; id <= calls; ++id) {
        rt::Task<bool> task = caller(shared, id);
        callers.push_back(rt::spawn(std::move(task)));
    }
    int wrong = 0;
    for (auto& handle : callers) {
        const bool right = co_await handle;
        if (!right) ++wrong;
    }
    shared.done = true;
    co_await ticker_handle;
    co_return wrong;
}

}  // namespace

int main(int argc, char** argv) {
    int calls = 8;
    int block_ms = 100;
    int threads = 4;
    bool on_runtime = false;
    CLI::App app{
        "Exercise 09-01: tasks hand blocking calls to ex::BlockingPool and await their results, "
        "while a ticker task keeps ticking every 10 ms on the same single-threaded runtime. "
        "With --on-runtime the tasks make the calls themselves, and the ticker stands still.",
        "solution-09-01"};
    app.add_option("-n,--calls", calls, "tasks, each making one blocking call")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("-b,--block", block_ms, "how long each call blocks, in ms")
        ->check(CLI::Range(0, 10'000))
        ->capture_default_str();
    app.add_option("-t,--threads", threads, "the most threads the pool may start")
        ->check(CLI::Range(1, 256))
        ->capture_default_str();
    app.add_flag("--on-runtime", on_runtime,
                 "make each call in its task, on the runtime's thread, instead of on the pool");
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    ex::BlockingPool pool(static_cast<std::size_t>(threads));
    Shared shared{pool, block_ms, on_runtime};
    rt::Runtime runtime(0);
    const int wrong = runtime.block_on(run(shared, calls));
    const double seconds = seconds_since(shared.start);

    std::printf("\n%d calls of %d ms, %s: %.3f s, and %d ticks of the ticker meanwhile.\n", calls,
                block_ms, on_runtime ? "on the runtime's own thread" : "on the blocking pool",
                seconds, shared.ticks);
    if (on_runtime) {
        std::printf("Each call held the runtime's only thread: no other task ran meanwhile.\n");
    } else {
        std::printf(
            "The pool started %zu thread(s) (at most %d); the runtime's thread stayed "
            "free for the ticker.\n",
            pool.stats().threads, threads);
    }
    if (wrong != 0) {
        std::fprintf(stderr, "solution-09-01: %d result(s) were wrong\n", wrong);
        return 1;
    }
    return 0;
}
