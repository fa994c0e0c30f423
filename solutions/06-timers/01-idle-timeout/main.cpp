// Exercise 06-01's program: a sender puts messages into an ex::Feed after the gaps it is given,
// and a receiver reads them through an ex::IdleTimeout of IDLE ms, like a server that closes a
// connection after IDLE ms of silence. A timeline shows every message and the deadline it
// moves, then how the connection ended (silence, or the sender's close) and how often the one
// idle timer fired. Exits 0 when the messages came in order, a timeout came no sooner than
// IDLE after the last message, and no more than one timer was ever the receiver's.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <idle_timeout.hpp>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = rt::Clock;
using std::chrono::milliseconds;

/// What the program prints and checks (one thread: the executor's).
struct Log {
    Clock::time_point start = Clock::now();
    rt::Executor* executor = nullptr;
    bool connection_closed = false;   // the receiver is done: the sender stops
    std::uint64_t sender_timers = 0;  // the sender's sleeps that waited for a timer
    bool ok = true;                   // every check held

    double ms(Clock::time_point at) const {
        return std::chrono::duration<double, std::milli>(at - start).count();
    }
    double now() const { return ms(Clock::now()); }

    void fail(const char* what) {
        std::printf("           BUG: %s\n", what);
        ok = false;
    }
};

/// rt::sleep, counting in `log` whether it had to wait for a timer, so that the timers the
/// executor fired can be told apart: the sender's, and the receiver's idle timer.
struct CountedSleep {
    using Output = void;
    rt::Sleep sleep;
    Log& log;
    bool polled = false;

    rt::Poll<void> poll(rt::Context& cx) {
        const rt::Poll<void> result = sleep.poll(cx);
        if (!polled && result.is_pending()) ++log.sender_timers;  // registered: it will fire
        polled = true;
        return result;
    }
};

/// Sends message 1, 2, ... after each gap; then closes the feed, or falls silent.
rt::Task<void> sender(ex::Feed<int>& feed, std::vector<int> gaps, bool close, Log& log) {
    int message = 0;
    for (const int gap : gaps) {
        co_await CountedSleep{rt::sleep(milliseconds(gap)), log};
        if (log.connection_closed) co_return;  // nobody reads any more
        feed.push(++message);
    }
    if (close) {
        std::printf("[%7.1f ms] sender: closes\n", log.now());
        feed.close();
    } else {
        std::printf("[%7.1f ms] sender: falls silent\n", log.now());
    }
}

/// Reads through an idle timeout until the feed ends or stays silent for `idle`.
rt::Task<void> receiver(ex::Feed<int>& feed, milliseconds idle, int& received, Log& log) {
    // The deadline counts from when the last message was handed out (at first, from the
    // opening), which is no sooner than the receiver asked for it: a lower bound to check a
    // timeout against.
    Clock::time_point silence_from = Clock::now();
    ex::IdleTimeout<ex::Feed<int>> connection(feed, idle);
    std::printf("[%7.1f ms] receiver: open, closes after %lld ms of silence (deadline %.1f ms)\n",
                log.now(), static_cast<long long>(idle.count()), log.ms(connection.deadline()));
    Clock::time_point last = Clock::now();  // of the last message, or the opening
    for (;;) {
        const Clock::time_point asked = Clock::now();
        ex::Received<int> got = co_await connection.next();
        const Clock::time_point now = Clock::now();
        // The sender's next sleep and the receiver's one timer: never a timer per message.
        if (log.executor->time_driver().registered() > 2) {
            log.fail("more than two timers registered: the receiver made more than one");
        }
        if (got.has_item()) {
            if (got.item() != received + 1) log.fail("a message out of order");
            received = got.item();
            std::printf(
                "[%7.1f ms] receiver: message %d, %5.1f ms after the last one; "
                "deadline moved to %.1f ms\n",
                log.ms(now), got.item(), log.ms(now) - log.ms(last), log.ms(connection.deadline()));
            last = now;
            silence_from = asked;
            continue;
        }
        if (got.ended()) {
            std::printf("[%7.1f ms] receiver: the sender closed; the connection ends\n",
                        log.ms(now));
        } else {
            std::printf(
                "[%7.1f ms] receiver: %.1f ms of silence: timed out, the connection is "
                "closed\n",
                log.ms(now), log.ms(now) - log.ms(last));
            if (now < silence_from + idle) {
                log.fail("timed out sooner than the idle time after the last message");
            }
        }
        break;
    }
    log.connection_closed = true;
    if (log.executor->time_driver().registered() > 1) {  // the sender's sleep, at most
        log.fail("the idle timer is still registered after the connection ended");
    }
}

}  // namespace

int main(int argc, char** argv) {
    int idle_ms = 100;
    std::vector<int> gaps{30, 60, 90, 20, 20, 80, 40};
    std::string end = "silence";

    CLI::App app{
        "Exercise 06-01: an idle timeout that every message resets. A sender sends messages "
        "after the gaps given (in ms); a receiver reads them through ex::IdleTimeout, and gives "
        "up once no message came for IDLE ms, as a server closes a silent connection. A gap "
        "longer than IDLE ends the connection there. After its last message the sender falls "
        "silent (the receiver times out) or closes (the receiver sees the end).",
        "solution-06-01"};
    app.add_option("-i,--idle-ms", idle_ms, "the silence allowed, in ms")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-g,--gaps", gaps, "the gaps before each message, in ms, comma-separated")
        ->delimiter(',')
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("-e,--end", end, "what the sender does after its last message")
        ->check(CLI::IsMember({"silence", "close"}))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    ex::Feed<int> feed;  // outlives the executor, and with it both tasks
    Log log;
    int received = 0;
    rt::RunStats stats;
    {
        rt::Executor executor;
        log.executor = &executor;
        executor.spawn(sender(feed, gaps, end == "close", log));
        executor.spawn(receiver(feed, milliseconds(idle_ms), received, log));
        stats = executor.run();
    }
    const std::uint64_t idle_fired = stats.timers_fired - log.sender_timers;
    std::printf(
        "\n%d of %zu messages received. Meanwhile the receiver's one idle timer fired %llu "
        "time(s),\nnot once per message: a message only moves the deadline, and a timer that "
        "fires at a\ndeadline moved since is set again.\n",
        received, gaps.size(), static_cast<unsigned long long>(idle_fired));
    std::printf("%s.\n", log.ok ? "Every check held" : "SOMETHING WENT WRONG (a bug)");
    return log.ok ? 0 : 1;
}
