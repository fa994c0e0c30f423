// Exercise 08-01's program: one owner and STEALERS thieves race on the solution's queue
// (ex::StealQueue). The owner pushes TASKS tasks in random bursts, some larger than the queue so
// that it overflows into the injector, and pops some after each burst; each thief steals half of
// what it finds into a queue of its own and pops what it stole. The program prints what every
// thread did (pushed, popped, stolen, steals that found nothing), checks that every task was
// taken exactly once, and exits 0 if so, 1 otherwise.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <steal_queue.hpp>

#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

/// What the queues hold: a task reduced to its number.
struct Task {
    std::uint32_t id = 0;
};

/// What one thread did.
struct Counts {
    std::uint64_t pushed = 0;         // owner: push_back calls
    std::uint64_t popped = 0;         // tasks popped from the thread's own queue
    std::uint64_t from_injector = 0;  // owner: tasks taken back from the injector
    std::uint64_t stolen = 0;         // thief: tasks its steals brought (run at once included)
    std::uint64_t steals = 0;         // thief: steals that brought something
    std::uint64_t empty_steals = 0;   // thief: steals that found nothing (or found a thief there)
};

struct Outcome {
    Counts owner;
    std::vector<Counts> thieves;
    std::uint64_t overflow_batches = 0;
    std::uint64_t never_taken = 0;
    std::uint64_t taken_twice = 0;
    double seconds = 0;
};

template <std::size_t Capacity>
Outcome race(std::uint32_t tasks, int thieves, std::uint64_t seed) {
    using Queue = ex::StealQueue<Task, Capacity>;
    std::vector<Task> items(tasks);
    for (std::uint32_t i = 0; i < tasks; ++i) items[i].id = i;
    // One count per task: how many times a thread took it. relaxed: read after the joins.
    auto taken = std::make_unique<std::atomic<std::uint8_t>[]>(tasks);
    auto take = [&](Task* task) { taken[task->id].fetch_add(1, std::memory_order_relaxed); };

    Queue queue;  // the owner's
    ex::Injector<Task> injector;
    std::atomic<bool> done{false};  // the owner's queue is empty for good
    Outcome outcome;
    outcome.thieves.resize(static_cast<std::size_t>(thieves));

    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < thieves; ++t) {
        threads.emplace_back([&, t] {
            Counts& counts = outcome.thieves[static_cast<std::size_t>(t)];
            Queue mine;
            for (;;) {
                // Read before the steal: once the owner is done, nothing more can be found.
                const bool finished = done.load(std::memory_order_acquire);
                Task* run_now = queue.steal_into(mine);
                if (run_now == nullptr) {
                    if (finished) break;
                    ++counts.empty_steals;
                    continue;
                }
                ++counts.steals;
                ++counts.stolen;
                take(run_now);
                while (Task* task = mine.pop()) {
                    ++counts.stolen;
                    take(task);
                }
            }
        });
    }

    // The owner, on this thread.
    std::mt19937_64 rng(seed);
    Counts& counts = outcome.owner;
    std::uint32_t next = 0;
    while (next < tasks) {
        const std::uint64_t burst = 1 + rng() % (Capacity + Capacity / 2);
        for (std::uint64_t i = 0; i < burst && next < tasks; ++i) {
            queue.push_back(&items[next++], injector);
            ++counts.pushed;
        }
        const std::uint64_t pops = rng() % (burst + 1);
        for (std::uint64_t i = 0; i < pops; ++i) {
            Task* task = queue.pop();
            if (task == nullptr) break;
            ++counts.popped;
            take(task);
        }
    }
    for (;;) {  // the rest: the owner's queue, then what overflowed into the injector
        if (Task* task = queue.pop()) {
            ++counts.popped;
            take(task);
        } else if (Task* overflowed = injector.pop()) {
            ++counts.from_injector;
            take(overflowed);
        } else {
            break;
        }
    }
    done.store(true, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    outcome.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    outcome.overflow_batches = injector.batches();

    for (std::uint32_t i = 0; i < tasks; ++i) {
        const std::uint8_t count = taken[i].load(std::memory_order_relaxed);
        if (count == 0) ++outcome.never_taken;
        if (count > 1) ++outcome.taken_twice;
    }
    return outcome;
}

void print_row(const std::string& name, const Counts& c) {
    using support::with_commas;
    std::printf("  %-9s %13s %13s %13s %13s %11s %15s\n", name.c_str(),
                with_commas(c.pushed).c_str(), with_commas(c.popped).c_str(),
                with_commas(c.from_injector).c_str(), with_commas(c.stolen).c_str(),
                with_commas(c.steals).c_str(), with_commas(c.empty_steals).c_str());
}

}  // namespace

int main(int argc, char** argv) {
    int thieves = 3;
    std::uint32_t tasks = 2'000'000;
    std::size_t capacity = 256;
    std::uint64_t seed = 1;

    CLI::App app{
        "Exercise 08-01: one owner and STEALERS thieves on ex::StealQueue, the ring buffer of a "
        "work-stealing worker. The owner pushes TASKS tasks in random bursts (some larger than "
        "the queue, which then moves half of itself to an injector queue) and pops some after "
        "each; every thief steals half of what it finds into its own queue and pops it. Prints "
        "per-thread counts and checks that every task was taken exactly once (exit 0; 1 if not).",
        "solution-08-01"};
    app.add_option("-s,--stealers", thieves, "thief threads, each with a queue of its own")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("-n,--tasks", tasks, "tasks the owner pushes")
        ->check(CLI::Range(1u, 100'000'000u))
        ->capture_default_str();
    app.add_option("-c,--capacity", capacity,
                   "slots in every queue: 256 as in the runtime, or 8 to make the owner write "
                   "over freed slots at once and overflow often")
        ->check(CLI::IsMember({8, 256}))
        ->capture_default_str();
    app.add_option("--seed", seed, "seed of the owner's random bursts")
        ->check([](const std::string& text) {  // CLI11 reads "-1" into a uint64_t as 2^64 - 1
            return text.find('-') == std::string::npos ? std::string()
                                                       : "a seed is not negative: " + text;
        })
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const Outcome outcome =
        capacity == 8 ? race<8>(tasks, thieves, seed) : race<256>(tasks, thieves, seed);

    std::printf("%s tasks, %zu slots per queue, 1 owner and %d thie%s, %.2f s\n\n",
                support::with_commas(tasks).c_str(), capacity, thieves, thieves == 1 ? "f" : "ves",
                outcome.seconds);
    std::printf("  %-9s %13s %13s %13s %13s %11s %15s\n", "thread", "pushed", "popped",
                "from injector", "stolen", "steals", "found nothing");
    print_row("owner", outcome.owner);
    for (std::size_t t = 0; t < outcome.thieves.size(); ++t) {
        print_row("thief " + std::to_string(t + 1), outcome.thieves[t]);
    }
    std::uint64_t stolen = 0, steals = 0;
    for (const Counts& c : outcome.thieves) {
        stolen += c.stolen;
        steals += c.steals;
    }
    std::printf(
        "\n  %s overflow(s) moved %s tasks to the injector; a steal took %.1f tasks on "
        "average\n",
        support::with_commas(outcome.overflow_batches).c_str(),
        support::with_commas(outcome.owner.from_injector).c_str(),
        steals == 0 ? 0.0 : static_cast<double>(stolen) / static_cast<double>(steals));

    const bool ok = outcome.never_taken == 0 && outcome.taken_twice == 0;
    if (ok) {
        std::printf("\nEvery task was taken exactly once.\n");
    } else {
        std::printf("\nBUG: %s task(s) never taken, %s taken more than once.\n",
                    support::with_commas(outcome.never_taken).c_str(),
                    support::with_commas(outcome.taken_twice).c_str());
    }
    return ok ? 0 : 1;
}
