// Exercise 04-01's program: TASKS workers spawned with ex::spawn_joinable sleep for decreasing
// times, so they finish last first, and one of them throws; a coroutine awaits their handles in
// spawn order and prints each value or exception as it arrives. One more task, detached, runs
// on its own; one more runs on a second executor on another thread, and finishes last: its
// completion there wakes the awaiting coroutine here. Exits 0 when every outcome was as expected.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <joinable.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What the program checks. Written by block_on's thread only; the other thread reads `start`.
struct Log {
    Clock::time_point start = Clock::now();
    int values = 0;      // values that arrived through a handle, as expected
    int exceptions = 0;  // exceptions that arrived through a handle, as expected
    bool detached_ran = false;

    double now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

/// Sleeps, then gives id * id, or throws if it is the one that fails.
rt::Task<int> worker(int id, std::chrono::milliseconds delay, bool fails, Log& log) {
    co_await rt::sleep(delay);
    if (fails) {
        std::printf("[%6.3f s] worker %d throws\n", log.now(), id);
        throw std::runtime_error("worker " + std::to_string(id) + " gave up");
    }
    std::printf("[%6.3f s] worker %d finishes with %d\n", log.now(), id, id * id);
    co_return id* id;
}

/// Nobody awaits it: its handle is dropped at once.
rt::Task<void> detached(std::chrono::milliseconds delay, Log& log) {
    co_await rt::sleep(delay);
    log.detached_ran = true;
    std::printf("[%6.3f s] the detached task finishes, with nobody waiting for it\n", log.now());
}

/// Runs on the second executor, on its own thread.
rt::Task<std::string> far_away(std::chrono::milliseconds delay, Log& log) {
    co_await rt::sleep(delay);
    std::printf("[%6.3f s] the task on the other thread finishes\n", log.now());
    co_return "hello from another thread";
}

/// Spawns the workers and the detached task, then awaits every handle in spawn order.
rt::Task<void> main_task(int tasks, std::chrono::milliseconds delay, int fail, Log& log,
                         ex::Handle<std::string> far_handle) {
    std::vector<ex::Handle<int>> handles;
    for (int id = 0; id < tasks; ++id) {
        const auto sleep_for = delay * (tasks - id) / tasks;  // the last spawned finishes first
        handles.push_back(ex::spawn_joinable(worker(id, sleep_for, id == fail, log)));
    }
    { ex::Handle<void> dropped = ex::spawn_joinable(detached(delay / 2, log)); }
    std::printf("[%6.3f s] spawned %d workers and a detached task; awaiting in spawn order\n",
                log.now(), tasks);

    for (int id = 0; id < tasks; ++id) {
        ex::Handle<int>& handle = handles[static_cast<std::size_t>(id)];
        const bool early = handle.is_finished();
        try {
            const int value = co_await handle;
            std::printf("[%6.3f s]   handle %d: %d%s\n", log.now(), id, value,
                        early ? " (finished before we asked: no wait)" : "");
            if (value == id * id) ++log.values;
        } catch (const std::runtime_error& error) {
            std::printf("[%6.3f s]   handle %d rethrows: %s%s\n", log.now(), id, error.what(),
                        early ? " (finished before we asked: no wait)" : "");
            if (id == fail) ++log.exceptions;
        }
    }
    std::printf("[%6.3f s] awaiting the task on the other thread\n", log.now());
    const std::string far = co_await far_handle;  // woken from that thread
    std::printf("[%6.3f s]   the handle from the other thread: \"%s\"\n", log.now(), far.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 6;
    int delay_ms = 600;
    int fail = 2;

    CLI::App app{
        "Exercise 04-01: join handles built on a runtime that only runs futures of void. TASKS "
        "workers are spawned with ex::spawn_joinable; worker i sleeps DELAY * (TASKS - i) / TASKS "
        "ms, so the last spawned finishes first, and worker FAIL throws. A coroutine awaits the "
        "handles in spawn order: each value or exception arrives through its handle. A detached "
        "task runs on its own, and a task on a second executor, on another thread, sleeps "
        "DELAY * 5 / 4 ms and wakes the coroutine when it finishes there.",
        "solution-04-01"};
    app.add_option("-t,--tasks", tasks, "number of workers")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("-d,--delay-ms", delay_ms, "how long the first worker sleeps, in milliseconds")
        ->check(CLI::Range(0, 5000))
        ->capture_default_str();
    app.add_option("-f,--fail", fail, "the worker that throws; -1: none")
        ->check(CLI::Range(-1, 99))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    if (fail >= tasks) {
        std::fprintf(stderr,
                     "solution-04-01: --fail %d names no worker: there are %d (0 to %d)\n"
                     "Run with --help for the options.\n",
                     fail, tasks, tasks - 1);
        return support::usage_error;
    }

    const std::chrono::milliseconds delay(delay_ms);
    Log log;
    // The second executor is filled here, then handed to its thread, which alone runs it.
    rt::Executor far_executor;
    ex::Handle<std::string> far_handle =
        ex::spawn_joinable(far_executor, far_away(delay * 5 / 4, log));
    std::jthread far_thread([&far_executor] { far_executor.run(); });

    rt::block_on(main_task(tasks, delay, fail, log, std::move(far_handle)));
    far_thread.join();

    const int expected_values = tasks - (fail >= 0 ? 1 : 0);
    const int expected_exceptions = fail >= 0 ? 1 : 0;
    const bool ok =
        log.values == expected_values && log.exceptions == expected_exceptions && log.detached_ran;
    std::printf(
        "\nThrough their handles: values %d (expected %d), exceptions %d (expected %d).\n"
        "The detached task %s. A handle whose worker had finished gave its outcome\n"
        "at once; the others were woken exactly once, when their worker stored its outcome\n"
        "(the last one from another thread).\n",
        log.values, expected_values, log.exceptions, expected_exceptions,
        log.detached_ran ? "ran to completion" : "DID NOT RUN (a bug)");
    return ok ? 0 : 1;
}
