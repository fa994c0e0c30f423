// Exercise 02-02's program: REQUESTS waiter tasks each await the answer of a worker through a
// oneshot channel, on chapter 2's executor. Workers sleep (the timer-thread sleep), then send,
// or give up and drop their sender; one more answer comes from a plain thread. Each waiter is
// polled twice: once to leave its waker in the channel, once after the send (or drop) woke it.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <oneshot.hpp>

#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"

namespace {

namespace oneshot = rt::sync::oneshot;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// Sleeps, then answers its request with id * id, or (a worker that gives up) drops its sender
/// without sending. Written by hand as the state machine of
/// `co_await sleep(delay); if (answers) tx.send(id * id);`.
class Worker {
public:
    using Output = void;

    Worker(int id, Clock::duration delay, bool answers, oneshot::Sender<int> tx,
           Clock::time_point start)
        : id_(id), answers_(answers), sleep_(rt::sleep(delay)), tx_(std::move(tx)), start_(start) {}

    rt::Poll<void> poll(rt::Context& cx) {
        if (sleep_.poll(cx).is_pending()) return rt::pending;
        if (answers_) {
            std::printf("[%6.3f s] worker %d sends %d\n", seconds_since(start_), id_, id_ * id_);
            std::move(*tx_).send(id_ * id_);
        } else {
            std::printf("[%6.3f s] worker %d gives up and drops its sender\n",
                        seconds_since(start_), id_);
            tx_.reset();
        }
        return rt::ready;
    }

private:
    int id_;
    bool answers_;
    rt::Sleep sleep_;
    std::optional<oneshot::Sender<int>> tx_;  // empty once dropped
    Clock::time_point start_;
};

/// Awaits the answer to request `id` and prints it, with the number of polls it took.
class Waiter {
public:
    using Output = void;

    Waiter(int id, oneshot::Receiver<int> rx, Clock::time_point start, std::uint64_t& polls)
        : id_(id), rx_(std::move(rx)), start_(start), polls_(polls) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++polls_;
        rt::Poll<std::optional<int>> polled = rx_.poll(cx);
        if (polled.is_pending()) return rt::pending;  // our waker is in the channel now
        const std::optional<int>& answer = polled.value();
        if (answer) {
            std::printf("[%6.3f s]   waiter %d received %d (poll %llu)\n", seconds_since(start_),
                        id_, *answer, static_cast<unsigned long long>(polls_));
        } else {
            std::printf("[%6.3f s]   waiter %d: the sender was dropped, no answer (poll %llu)\n",
                        seconds_since(start_), id_, static_cast<unsigned long long>(polls_));
        }
        return rt::ready;
    }

private:
    int id_;
    oneshot::Receiver<int> rx_;
    Clock::time_point start_;
    std::uint64_t& polls_;  // owned by main, outlives the executor's run
};

}  // namespace

int main(int argc, char** argv) {
    int requests = 5;
    int delay_ms = 1000;
    int drop_every = 3;

    CLI::App app{
        "Exercise 02-02: a oneshot channel. REQUESTS waiter tasks each await the answer of a "
        "worker task through a oneshot channel, on chapter 2's executor. Worker i sleeps "
        "DELAY * (i + 1) / REQUESTS ms, then sends i * i, except every DROP_EVERY-th worker, which "
        "drops its sender without sending. One more waiter is answered by a plain thread. Shows "
        "each waiter polled twice, and the executor asleep in between.",
        "solution-02-02"};
    app.add_option("-r,--requests", requests, "number of worker/waiter pairs")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("-d,--delay-ms", delay_ms, "how long the slowest worker sleeps, in milliseconds")
        ->check(CLI::Range(0, 10'000))
        ->capture_default_str();
    app.add_option("-x,--drop-every", drop_every,
                   "every DROP_EVERY-th worker drops its sender instead of sending; 0: none do")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const Clock::time_point start = Clock::now();
    std::vector<std::uint64_t> polls(static_cast<std::size_t>(requests) + 1, 0);
    rt::Executor executor;
    std::vector<Worker> workers;
    for (int i = 0; i < requests; ++i) {
        auto [tx, rx] = oneshot::channel<int>();
        // Waiters are spawned first, so each polls its receiver before its worker can send.
        executor.spawn(Waiter(i, std::move(rx), start, polls[static_cast<std::size_t>(i)]));
        const bool answers = drop_every == 0 || (i + 1) % drop_every != 0;
        workers.emplace_back(i, std::chrono::milliseconds(delay_ms) * (i + 1) / requests, answers,
                             std::move(tx), start);
    }
    for (Worker& worker : workers) executor.spawn(std::move(worker));

    // One answer from outside the executor: a thread sends while the executor sleeps.
    auto [thread_tx, thread_rx] = oneshot::channel<int>();
    executor.spawn(
        Waiter(requests, std::move(thread_rx), start, polls[static_cast<std::size_t>(requests)]));
    std::thread answering_thread([tx = std::move(thread_tx), delay_ms, start]() mutable {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms) / 2);
        std::printf("[%6.3f s] a plain thread sends 1000\n", seconds_since(start));
        std::move(tx).send(1000);
    });

    const rt::RunStats stats = executor.run();
    answering_thread.join();

    std::uint64_t waiter_polls = 0;
    for (std::uint64_t p : polls) waiter_polls += p;
    std::printf(
        "\nWaiters: %d, polled %llu times in all (%.1f each). Executor: %llu polls in all, asleep\n"
        "%llu times. A waiter is polled once to leave its waker in the channel, and once more\n"
        "when the send (or the dropped sender) wakes it: never in between.\n",
        requests + 1, static_cast<unsigned long long>(waiter_polls),
        static_cast<double>(waiter_polls) / (requests + 1),
        static_cast<unsigned long long>(stats.polls), static_cast<unsigned long long>(stats.parks));
    return 0;
}
