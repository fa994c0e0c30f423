// Exercise 06-01's program: a sleep, then a long operation under ex::with_deadline that prints
// "Operation completed in time" or "Operation timed out", then a retry loop whose attempts share
// one ex::Deadline. Every timed-out operation must be destroyed before its outcome is seen, and
// no timer may be left once an outcome is given: the program checks both, and exits 0 if they held.
#include <chrono>
#include <cstdio>
#include <string>

#include <deadline.hpp>

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
    rt::Executor* executor = nullptr;
    int cancelled = 0;  // operations destroyed before they finished
    bool ok = true;     // every check held

    double now() const { return std::chrono::duration<double>(Clock::now() - start).count(); }

    /// After an outcome: no timer may be left, and a timeout must have cancelled the operation.
    void check(bool timed_out, int cancelled_before) {
        const std::size_t timers = executor->time_driver().registered();
        if (timers != 0) {
            std::printf("           BUG: %zu timer(s) still registered after the outcome\n",
                        timers);
            ok = false;
        }
        if (timed_out && cancelled != cancelled_before + 1) {
            std::printf("           BUG: the timed-out operation was not destroyed in time\n");
            ok = false;
        }
    }
};

/// A local of every operation: its destructor tells whether the operation finished or was
/// cancelled where it waited.
class Guard {
public:
    Guard(std::string name, Log& log) : name_(std::move(name)), log_(log) {}
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() {
        if (finished_) return;
        ++log_.cancelled;
        std::printf("[%6.3f s]   %s cancelled where it slept: its locals are destroyed\n",
                    log_.now(), name_.c_str());
    }
    void finish() { finished_ = true; }

private:
    std::string name_;
    Log& log_;
    bool finished_ = false;
};

/// Works (sleeps) for `work`, then gives how long that was.
rt::Task<long long> long_operation(milliseconds work, Log& log) {
    Guard guard("long_operation", log);
    std::printf("[%6.3f s]   long_operation starts: %lld ms of work\n", log.now(),
                static_cast<long long>(work.count()));
    co_await rt::sleep(work);
    guard.finish();
    co_return static_cast<long long>(work.count());
}

/// One call to a service that answers after `delay`.
rt::Task<std::string> call_service(int attempt, milliseconds delay, Log& log) {
    Guard guard("attempt " + std::to_string(attempt), log);
    co_await rt::sleep(delay);
    guard.finish();
    co_return "answer to attempt " + std::to_string(attempt);
}

struct Options {
    milliseconds sleep;
    milliseconds limit;
    milliseconds work;
    milliseconds budget;
    milliseconds attempt;
    int slow;
};

rt::Task<void> main_task(Options options, Log& log) {
    std::printf("[%6.3f s] sleeping %lld ms\n", log.now(),
                static_cast<long long>(options.sleep.count()));
    co_await rt::sleep(options.sleep);
    std::printf("[%6.3f s] slept\n\n", log.now());

    std::printf("[%6.3f s] long_operation under a deadline of %lld ms\n", log.now(),
                static_cast<long long>(options.limit.count()));
    int cancelled_before = log.cancelled;
    const ex::Outcome<long long> outcome =
        co_await ex::with_deadline(options.limit, long_operation(options.work, log));
    if (outcome) {
        std::printf("[%6.3f s] Operation completed in time (%lld ms of work)\n", log.now(),
                    outcome.value());
    } else {
        std::printf("[%6.3f s] Operation timed out\n", log.now());
    }
    log.check(outcome.timed_out(), cancelled_before);

    std::printf("\n[%6.3f s] retrying a service: %lld ms in all, at most %lld ms an attempt\n",
                log.now(), static_cast<long long>(options.budget.count()),
                static_cast<long long>(options.attempt.count()));
    const ex::Deadline budget = ex::Deadline::after(options.budget);
    for (int attempt = 1; !budget.expired(); ++attempt) {
        // The first `slow` attempts take twice the attempt's limit; later ones half of it.
        const milliseconds delay =
            attempt <= options.slow ? options.attempt * 2 : options.attempt / 2;
        cancelled_before = log.cancelled;
        const ex::Outcome<std::string> answer = co_await ex::with_deadline(
            budget.at_most(options.attempt), call_service(attempt, delay, log));
        log.check(answer.timed_out(), cancelled_before);
        if (answer) {
            std::printf("[%6.3f s] got \"%s\"\n", log.now(), answer.value().c_str());
            co_return;
        }
        const auto left = std::chrono::duration_cast<milliseconds>(budget.remaining());
        std::printf("[%6.3f s] attempt %d timed out; %lld ms of the budget left\n", log.now(),
                    attempt, static_cast<long long>(left.count()));
    }
    std::printf("[%6.3f s] the budget is spent: giving up\n", log.now());
}

}  // namespace

int main(int argc, char** argv) {
    int sleep_ms = 200;
    int limit_ms = 300;
    int work_ms = 600;
    int budget_ms = 800;
    int attempt_ms = 200;
    int slow = 2;

    CLI::App app{
        "Exercise 06-01: a time limit on any future, built from the future and a timer. The "
        "program sleeps SLEEP ms, then runs an operation of WORK ms under a deadline of LIMIT ms "
        "and says whether it completed in time or timed out (and was cancelled where it slept). "
        "Then it retries a service with a budget of BUDGET ms shared by all attempts, each "
        "limited to ATTEMPT ms: the first SLOW attempts take 2 * ATTEMPT ms and time out, the "
        "next one takes ATTEMPT / 2 ms.",
        "solution-06-01"};
    app.add_option("-s,--sleep-ms", sleep_ms, "the first sleep, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-l,--limit-ms", limit_ms, "the operation's deadline, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-w,--work-ms", work_ms, "how long the operation works, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-b,--budget-ms", budget_ms, "the retry loop's budget, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-a,--attempt-ms", attempt_ms, "the limit of one attempt, in ms")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    app.add_option("--slow", slow, "how many attempts are too slow")
        ->check(CLI::Range(0, 100))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    rt::Executor executor;
    Log log;
    log.executor = &executor;
    const Options options{milliseconds(sleep_ms),  milliseconds(limit_ms),   milliseconds(work_ms),
                          milliseconds(budget_ms), milliseconds(attempt_ms), slow};
    executor.block_on(main_task(options, log));
    std::printf(
        "\n%s.\nEvery operation that ran out of time was destroyed in the poll that saw its\n"
        "deadline pass, before its outcome was given, and no timer outlived an outcome.\n",
        log.ok ? "Every check held" : "SOMETHING WENT WRONG (a bug)");
    return log.ok ? 0 : 1;
}
