// Exercise 04-02's program: JOBS downloads with random delays, joined with ex::join_all, print
// as they finish and come back in input order; then ex::select puts a deadline on two more
// downloads, one that beats it and one that does not. The slow one is cancelled where it sleeps,
// and its guard's destructor says so before select returns. Exits 0 when all went as expected.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <join_all.hpp>
#include <select.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// What the program prints and checks (one thread: the executor's).
struct Log {
    Clock::time_point start = Clock::now();
    std::vector<int> finish_order;
    int cancelled = 0;  // downloads whose frame was destroyed before they finished

    double now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }
};

/// A local of every download: its destructor runs whether the download finishes or is
/// cancelled, and tells which.
class Guard {
public:
    Guard(int id, Log& log) : id_(id), log_(log) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
        if (finished_) return;
        ++log_.cancelled;
        std::printf("[%6.3f s]   download %d cancelled where it slept: its guard is destroyed\n",
                    log_.now(), id_);
    }
    void finish() { finished_ = true; }

private:
    int id_;
    Log& log_;
    bool finished_ = false;
};

/// Sleeps for `delay`, as if waiting for the network, then gives the "size" of what it got.
rt::Task<int> download(int id, milliseconds delay, Log& log) {
    Guard guard(id, log);
    co_await rt::sleep(delay);
    guard.finish();
    log.finish_order.push_back(id);
    std::printf("[%6.3f s]   download %d done after %lld ms\n", log.now(), id,
                static_cast<long long>(delay.count()));
    co_return 1000 + id;
}

rt::Task<std::string> deadline(milliseconds after) {
    co_await rt::sleep(after);
    co_return "deadline passed";
}

/// A download raced against a deadline; true when the outcome was the expected one.
rt::Task<bool> with_deadline(int id, milliseconds delay, milliseconds limit, bool should_finish,
                             Log& log) {
    std::printf("[%6.3f s] download %d (%lld ms) against a deadline of %lld ms\n", log.now(), id,
                static_cast<long long>(delay.count()), static_cast<long long>(limit.count()));
    const int cancelled_before = log.cancelled;
    std::variant<int, std::string> winner =
        co_await ex::select(download(id, delay, log), deadline(limit));
    if (winner.index() == 0) {
        std::printf("[%6.3f s] select: the download won with %d; the deadline's sleep is gone\n",
                    log.now(), std::get<0>(winner));
        co_return should_finish;
    }
    std::printf("[%6.3f s] select: %s; the download was already cancelled\n", log.now(),
                std::get<1>(winner).c_str());
    co_return !should_finish && log.cancelled == cancelled_before + 1;
}

rt::Task<bool> main_task(std::vector<milliseconds> delays, milliseconds limit, Log& log) {
    std::printf("[%6.3f s] join_all of %zu downloads\n", log.now(), delays.size());
    std::vector<rt::Task<int>> downloads;
    for (std::size_t id = 0; id < delays.size(); ++id) {
        downloads.push_back(download(static_cast<int>(id), delays[id], log));
    }
    const std::vector<int> sizes = co_await ex::join_all(std::move(downloads));
    std::printf("[%6.3f s] join_all: values in input order:", log.now());
    for (int size : sizes) std::printf(" %d", size);
    std::printf("\n           finished in the order:");
    for (int id : log.finish_order) std::printf(" %d", id);
    std::printf("\n\n");
    bool ok = sizes.size() == delays.size();
    for (std::size_t id = 0; id < sizes.size(); ++id) {
        ok = ok && sizes[id] == 1000 + static_cast<int>(id);
    }

    const int next = static_cast<int>(delays.size());
    ok = co_await with_deadline(next, limit / 3, limit, true, log) && ok;
    ok = co_await with_deadline(next + 1, limit * 10, limit, false, log) && ok;
    co_return ok;
}

}  // namespace

int main(int argc, char** argv) {
    int jobs = 5;
    int max_delay_ms = 400;
    int timeout_ms = 300;
    std::uint32_t seed = 1;

    CLI::App app{
        "Exercise 04-02: join_all and select over coroutine tasks. JOBS downloads sleep between "
        "MAX / 5 and MAX ms (random, from SEED), joined with ex::join_all: they finish in any "
        "order, and their values come back in input order. Then ex::select races a download "
        "against a deadline of TIMEOUT ms twice: one download takes TIMEOUT / 3 and wins, one "
        "takes 10 * TIMEOUT and is cancelled where it sleeps.",
        "solution-04-02"};
    app.add_option("-j,--jobs", jobs, "number of downloads joined")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    app.add_option("-m,--max-delay-ms", max_delay_ms, "longest download of the join, in ms")
        ->check(CLI::Range(0, 5000))
        ->capture_default_str();
    app.add_option("-t,--timeout-ms", timeout_ms, "the deadline of the races, in ms")
        ->check(CLI::Range(1, 5000))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of the random delays")->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::mt19937 random(seed);
    std::uniform_int_distribution<int> delay_ms(max_delay_ms / 5, max_delay_ms);
    std::vector<milliseconds> delays;
    for (int id = 0; id < jobs; ++id) delays.emplace_back(delay_ms(random));

    Log log;
    const bool ok = rt::block_on(main_task(std::move(delays), milliseconds(timeout_ms), log));
    std::printf(
        "\n%s.\nA download cancelled by select never finished its sleep: select destroyed its\n"
        "coroutine frame where it was suspended, which ran its guard's destructor and destroyed\n"
        "the sleep, before select answered.\n",
        ok ? "Every outcome was the expected one" : "SOMETHING WENT WRONG (a bug)");
    return ok ? 0 : 1;
}
