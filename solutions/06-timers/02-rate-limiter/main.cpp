// Exercise 06-02's program: REQUESTS tasks call a service through one ex::RateLimiter of PERMITS
// per PERIOD ms; one of them gives up after PATIENCE ms. A timeline shows who got a permit of
// which window, then a histogram per window; after IDLE unused periods a second burst shows
// that unused permits did not pile up. Exits 0 when no window gave out more than PERMITS, every
// patient request was served, and they were served in the order they arrived.
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rate_limiter.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/join_handle.hpp"
#include "rt/sleep.hpp"
#include "rt/timeout.hpp"
#include "support/cli.hpp"

namespace {

using Clock = rt::Clock;
using std::chrono::milliseconds;

/// What the program prints and checks (one thread: the executor's).
struct Log {
    Clock::time_point start = Clock::now();
    std::map<long long, std::vector<int>> by_window;  // window number: the requests it served
    std::vector<int> order;                           // requests, in the order they were served
    int gave_up = 0;

    double now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

long long window_number(const ex::RateLimiter& limiter, Clock::time_point window) {
    return static_cast<long long>((window - limiter.start()) / limiter.period());
}

/// One request: waits for a permit (or, if it is the impatient one, gives up after `patience`).
rt::Task<void> request(int id, ex::RateLimiter& limiter, std::optional<milliseconds> patience,
                       Log& log) {
    if (patience) {
        const std::optional<Clock::time_point> window =
            co_await rt::timeout(*patience, limiter.acquire());
        if (!window) {
            ++log.gave_up;
            std::printf("[%6.3f s]   request %2d gave up after %lld ms; its place passes on\n",
                        log.now(), id, static_cast<long long>(patience->count()));
            co_return;
        }
        log.by_window[window_number(limiter, *window)].push_back(id);
        log.order.push_back(id);
        std::printf("[%6.3f s]   request %2d: permit of window %lld\n", log.now(), id,
                    window_number(limiter, *window));
        co_return;
    }
    const Clock::time_point window = co_await limiter.acquire();
    log.by_window[window_number(limiter, window)].push_back(id);
    log.order.push_back(id);
    std::printf("[%6.3f s]   request %2d: permit of window %lld\n", log.now(), id,
                window_number(limiter, window));
}

/// Spawn `count` requests numbered from `first`, and wait for them all.
rt::Task<void> burst(int first, int count, int impatient, milliseconds patience,
                     ex::RateLimiter& limiter, Log& log) {
    std::vector<rt::JoinHandle<void>> handles;
    for (int id = first; id < first + count; ++id) {
        const std::optional<milliseconds> wait =
            id == impatient ? std::optional<milliseconds>(patience) : std::nullopt;
        handles.push_back(rt::spawn(request(id, limiter, wait, log)));
    }
    for (rt::JoinHandle<void>& handle : handles) co_await handle;
}

rt::Task<void> main_task(int requests, int impatient, milliseconds patience, int idle,
                         ex::RateLimiter& limiter, Log& log) {
    const std::string who =
        impatient >= 0 ? "; request " + std::to_string(impatient) + " is impatient" : "";
    std::printf("[%6.3f s] %d requests at once%s\n", log.now(), requests, who.c_str());
    co_await burst(0, requests, impatient, patience, limiter, log);
    if (idle > 0) {
        std::printf("[%6.3f s] %d periods without a request\n", log.now(), idle);
        co_await rt::sleep(limiter.period() * idle);
        const int second = static_cast<int>(limiter.permits_per_period()) * 2;
        std::printf("[%6.3f s] %d more requests at once: the idle periods saved nothing up\n",
                    log.now(), second);
        co_await burst(requests, second, -1, patience, limiter, log);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int permits = 4;
    int period_ms = 200;
    int requests = 12;
    int impatient = 5;
    int patience_ms = 100;
    int idle = 2;

    CLI::App app{
        "Exercise 06-02: a rate limiter of PERMITS per window of PERIOD ms, on the runtime's "
        "timers. REQUESTS requests arrive at once and are served first come, first served, at "
        "most PERMITS a window; request IMPATIENT gives up after PATIENCE ms, and its place "
        "passes on. Then, after IDLE periods with no request, 2 * PERMITS more arrive: only "
        "PERMITS are served at once, since unused permits do not pile up.",
        "solution-06-02"};
    app.add_option("-p,--permits", permits, "permits per window")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("-P,--period-ms", period_ms, "a window's length, in ms")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("-r,--requests", requests, "requests of the first burst")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-i,--impatient", impatient, "the request that gives up; -1: none")
        ->check(CLI::Range(-1, 9999))
        ->capture_default_str();
    app.add_option("--patience-ms", patience_ms, "how long the impatient request waits, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--idle", idle, "periods without a request before the second burst; 0: none")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;
    if (impatient >= requests) {
        std::fprintf(stderr,
                     "solution-06-02: --impatient %d names no request: there are %d, numbered "
                     "from 0\nRun with --help for the options.\n",
                     impatient, requests);
        return support::usage_error;
    }

    Log log;
    ex::RateLimiter limiter(static_cast<std::size_t>(permits), milliseconds(period_ms), log.start);
    rt::block_on(main_task(requests, impatient, milliseconds(patience_ms), idle, limiter, log));

    std::printf("\nPermits per window (at most %d):\n", permits);
    bool ok = true;
    for (const auto& [window, ids] : log.by_window) {
        std::printf("  window %3lld at %6.3f s: %-*s %zu\n", window,
                    static_cast<double>(window) * period_ms / 1000.0, permits,
                    std::string(ids.size(), '#').c_str(), ids.size());
        if (ids.size() > static_cast<std::size_t>(permits)) ok = false;
    }
    for (std::size_t i = 1; i < log.order.size(); ++i) {
        if (log.order[i] < log.order[i - 1]) ok = false;  // served out of arrival order
    }
    const int total = requests + (idle > 0 ? permits * 2 : 0);
    if (static_cast<int>(log.order.size()) + log.gave_up != total) ok = false;
    std::printf(
        "\n%s: %zu requests served in arrival order, %d gave up, no window over its permits.\n",
        ok ? "As expected" : "SOMETHING WENT WRONG (a bug)", log.order.size(), log.gave_up);
    return ok ? 0 : 1;
}
