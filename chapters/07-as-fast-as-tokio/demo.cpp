// Chapter 7's demo: the same tasks spawned in each of the ways the chapter compares (a lambda
// that captures, a coroutine function called with its arguments, a hand-written future),
// with what each costs: heap allocations per task, time per task from spawn to completion,
// and resident memory per idle task; then a yield storm, and the task header's layout.
//
// Every allocation of the program is counted, so the figures are measured, never assumed: the
// blocks each task takes from the frame pool (FramePool::handed_out), and every other call of
// operator new (support/counted_allocations.hpp), of which the pool makes one per slab.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/frame_pool.hpp"
#include "rt/yield_now.hpp"
#include "support/cli.hpp"
#include "support/counted_allocations.hpp"
#include "support/format.hpp"
#include "support/resident_memory.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// A gate that every task waits at until it opens: an intrusive list of waiters, so that
/// waiting allocates nothing (the benchmarks' idle_memory uses the same kind of event).
class Gate {
public:
    class Wait {
    public:
        using Output = void;
        explicit Wait(Gate& gate) : gate_(&gate) {}
        rt::Poll<void> poll(rt::Context& cx) {
            if (gate_->open_) return rt::ready;
            if (!waker_) {
                next_ = gate_->waiting_;
                gate_->waiting_ = this;
            }
            waker_ = cx.waker();
            return rt::pending;
        }

    private:
        friend class Gate;
        Gate* gate_;
        Wait* next_ = nullptr;
        std::optional<rt::Waker> waker_;
    };

    Wait wait() { return Wait(*this); }
    void open() {
        open_ = true;
        for (Wait* wait = std::exchange(waiting_, nullptr); wait != nullptr; wait = wait->next_) {
            wait->waker_->wake_by_ref();
        }
    }

private:
    bool open_ = false;
    Wait* waiting_ = nullptr;
};

// The same task, three ways.
rt::Task<void> count_then_wait(std::size_t* done, Gate* gate) {
    ++*done;
    co_await gate->wait();
}

struct CountThenWait {  // by hand: what count_then_wait's frame does, as a state machine
    using Output = void;
    std::size_t* done;
    Gate::Wait wait;
    bool counted = false;
    rt::Poll<void> poll(rt::Context& cx) {
        if (!counted) {
            counted = true;
            ++*done;
        }
        return wait.poll(cx);
    }
};

enum class Way { lambda, call, by_hand };

const char* name_of(Way way) {
    switch (way) {
        case Way::lambda:
            return "spawn([&] () -> Task {...})";
        case Way::call:
            return "spawn(fn, args...)";
        case Way::by_hand:
            return "spawn(hand-written future)";
    }
    return "";
}

void spawn_one(Way way, std::size_t& done, Gate& gate) {
    switch (way) {
        case Way::lambda:
            rt::spawn([&done, &gate]() -> rt::Task<void> {
                ++done;
                co_await gate.wait();
            });
            return;
        case Way::call:
            rt::spawn(count_then_wait, &done, &gate);
            return;
        case Way::by_hand:
            rt::spawn(CountThenWait{&done, gate.wait()});
            return;
    }
}

/// Spawn `tasks` tasks that each wait at a gate, open it, and let them finish: allocations
/// per task, nanoseconds per task, and the resident bytes per task while they all waited.
/// Each way runs in a process of its own (fork), so that none finds memory that another one
/// freed: every way starts from the same empty frame pool.
void spawn_each_way(std::size_t tasks) {
    std::printf("%-30s %12s %14s %14s\n", "spawned with", "allocations", "ns per task",
                "bytes idle");
    std::fflush(stdout);
    for (Way way : {Way::lambda, Way::call, Way::by_hand}) {
        const pid_t child = ::fork();
        if (child < 0) {
            std::perror("demo: fork");
            std::exit(1);
        }
        if (child > 0) {
            int status = 0;
            ::waitpid(child, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                std::fprintf(stderr, "demo: measuring %s failed\n", name_of(way));
                std::exit(1);
            }
            continue;
        }
        Gate gate;
        std::size_t done = 0;
        rt::Executor executor;
        const long before_kb = support::resident_kb();
        const std::size_t before =
            support::allocations.load() + rt::detail::FramePool::handed_out();
        const auto start = Clock::now();
        executor.block_on([&]() -> rt::Task<void> {
            for (std::size_t i = 0; i < tasks; ++i) spawn_one(way, done, gate);
            while (done < tasks) co_await rt::yield_now();
        });
        const std::size_t made =
            support::allocations.load() + rt::detail::FramePool::handed_out() - before;
        const long idle_kb = support::resident_kb() - before_kb;
        gate.open();
        executor.run();
        const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
        std::printf("%-30s %12.2f %14.1f %14.1f\n", name_of(way),
                    static_cast<double>(made) / static_cast<double>(tasks),
                    ns / static_cast<double>(tasks),
                    static_cast<double>(idle_kb) * 1024.0 / static_cast<double>(tasks));
        std::fflush(stdout);
        std::_Exit(0);  // the child's part is done
    }
}

/// Tasks that yield in turns: each yield is a wake, a push, a pop and a poll.
void yield_storm(int tasks, int yields) {
    rt::Executor executor;
    const auto start = Clock::now();
    executor.block_on([&]() -> rt::Task<void> {
        std::vector<rt::JoinHandle<void>> handles;
        for (int i = 0; i < tasks; ++i) {
            handles.push_back(rt::spawn(
                [](int n) -> rt::Task<void> {
                    for (int k = 0; k < n; ++k) co_await rt::yield_now();
                },
                yields));
        }
        for (auto& handle : handles) co_await handle;
    });
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    std::printf("%d tasks x %d yields: %.1f ns per yield\n", tasks, yields,
                ns / (static_cast<double>(tasks) * yields));
}

}  // namespace

int main(int argc, char** argv) {
    int tasks = 100'000;
    int yielders = 200;
    int yields = 1'000;
    CLI::App app{
        "Chapter 7: as fast as Tokio. Spawns TASKS tasks in each of three ways (a lambda that "
        "captures, a coroutine function with its arguments, a hand-written future) and shows "
        "the allocations, time and idle memory of each; then YIELDERS tasks yielding YIELDS "
        "times each; then the layout of a task.",
        "demo"};
    app.add_option("-t,--tasks", tasks, "tasks spawned each way")
        ->check(CLI::Range(1, 2'000'000))
        ->capture_default_str();
    app.add_option("--yielders", yielders, "tasks in the yield storm")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    app.add_option("--yields", yields, "yields per task in the yield storm")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::printf("%s tasks, spawned three ways\n",
                support::with_commas(static_cast<std::uint64_t>(tasks)).c_str());
    spawn_each_way(static_cast<std::size_t>(tasks));

    std::printf("\nA yield storm\n");
    yield_storm(yielders, yields);

    std::printf(
        "\nA task's header: %zu bytes (Joinable<void>); a coroutine's frame gets %zu "
        "bytes of room in front of it for one\n",
        sizeof(rt::detail::Joinable<void>), rt::detail::CoroutineCell<void>::room);
    return 0;
}
