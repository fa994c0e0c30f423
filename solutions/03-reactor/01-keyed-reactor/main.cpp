// Exercise 03-01's program: TASKS tasks each wait for one event, keyed by their number, on an
// EventReactor. A notifier thread rings the keys in random order during WINDOW ms, and each
// task starts waiting at its own random moment of the same window: events that come first are
// remembered, the others wake their task. None is lost, and no registration is left behind.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include <event_reactor.hpp>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What one task saw, for the table.
struct Seen {
    double waits_from = 0;  // seconds since the start
    double ready_at = 0;
    bool remembered = false;  // the wait was ready at its first poll: the event came first
};

/// The state machine of: co_await sleep_until(start); co_await reactor.wait(key).
class Pager {
public:
    using Output = void;

    Pager(rt::EventReactor& reactor, rt::Token key, Clock::time_point begin,
          Clock::time_point start, Seen& seen)
        : wait_(reactor.wait(key)), begin_(begin), sleep_(rt::sleep_until(start)), seen_(seen) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (sleep_) {
            if (sleep_->poll(cx).is_pending()) return rt::pending;
            sleep_.reset();
            seen_.waits_from = seconds_since_begin();
        }
        ++wait_polls_;
        if (wait_.poll(cx).is_pending()) return rt::pending;
        seen_.ready_at = seconds_since_begin();
        seen_.remembered = wait_polls_ == 1;
        return rt::ready;
    }

private:
    double seconds_since_begin() const {
        return std::chrono::duration<double>(Clock::now() - begin_).count();
    }

    rt::EventReactor::Wait wait_;
    Clock::time_point begin_;
    std::optional<rt::Sleep> sleep_;  // empty once the task has started waiting
    Seen& seen_;                      // owned by main, outlives the executor's run
    int wait_polls_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    int tasks = 8;
    int window_ms = 1000;
    std::uint32_t seed = 1;

    CLI::App app{
        "Exercise 03-01: a keyed reactor that remembers events. TASKS tasks each wait for the "
        "event of their own key on an EventReactor; a notifier thread notifies every key once, "
        "in random order, at random moments of WINDOW ms, and each task starts waiting at a "
        "random moment of the same window. Shows which events were remembered (notified before "
        "the wait) and which woke their task.",
        "solution-03-01"};
    app.add_option("-t,--tasks", tasks, "number of tasks, one key each")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    app.add_option("-w,--window-ms", window_ms, "length of the window, in milliseconds")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of the random moments")->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::mt19937 random(seed);
    std::uniform_int_distribution<int> moment_ms(0, window_ms);
    std::vector<int> notify_ms(static_cast<std::size_t>(tasks));
    std::vector<int> start_ms(static_cast<std::size_t>(tasks));
    for (int& ms : notify_ms) ms = moment_ms(random);
    for (int& ms : start_ms) ms = moment_ms(random);

    rt::EventReactor reactor;
    std::vector<Seen> seen(static_cast<std::size_t>(tasks));
    const Clock::time_point begin = Clock::now();
    {
        rt::Executor executor;
        for (int i = 0; i < tasks; ++i) {
            const auto index = static_cast<std::size_t>(i);
            const auto start = begin + std::chrono::milliseconds(start_ms[index]);
            executor.spawn(Pager(reactor, static_cast<rt::Token>(i), begin, start, seen[index]));
        }
        std::thread notifier([&] {
            std::vector<int> order(static_cast<std::size_t>(tasks));
            for (int i = 0; i < tasks; ++i) order[static_cast<std::size_t>(i)] = i;
            auto notify_at = [&](int i) {
                return begin + std::chrono::milliseconds(notify_ms[static_cast<std::size_t>(i)]);
            };
            std::sort(order.begin(), order.end(),
                      [&](int a, int b) { return notify_at(a) < notify_at(b); });
            for (int i : order) {
                std::this_thread::sleep_until(notify_at(i));
                reactor.notify(static_cast<rt::Token>(i));
            }
        });
        const rt::RunStats stats = executor.run();
        notifier.join();
        std::printf("%-6s %12s %12s %12s   %s\n", "task", "notified at", "waits from", "ready at",
                    "how");
        int remembered = 0;
        for (int i = 0; i < tasks; ++i) {
            const Seen& s = seen[static_cast<std::size_t>(i)];
            remembered += s.remembered ? 1 : 0;
            std::printf("%-6d %11.3fs %11.3fs %11.3fs   %s\n", i,
                        notify_ms[static_cast<std::size_t>(i)] / 1000.0, s.waits_from, s.ready_at,
                        s.remembered ? "remembered: the event came first" : "woken by the notify");
        }
        std::printf(
            "\n%d tasks: %d events remembered, %d tasks woken, none lost (%llu polls in all).\n"
            "Registrations left in the reactor: %zu. Chapter 3's KeyedReactor forgets an event\n"
            "nobody waits for: the %d remembered would have left their tasks waiting for ever.\n",
            tasks, remembered, tasks - remembered, static_cast<unsigned long long>(stats.polls),
            reactor.registrations(), remembered);
    }
    return 0;
}
