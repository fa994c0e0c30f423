// Exercise 07-01's program: the two-list ready queue (ex::ReadyQueue) against the queue of
// chapters 5 and 6, one std::deque under one std::mutex for every push and pop, with the same
// park protocol. First on the owner's thread alone, where nearly every wake of an executor comes
// from: pushes and pops per second. Then with THREADS other threads waking tasks while the owner
// pops them and parks on an eventfd: tasks handed over per second, and how many pushes had to
// wake the owner (a write(2) each). Every figure is measured here; the program checks that no
// push was lost (the last pop of every task saw its last push) and exits 0 if none was.
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <ready_queue.hpp>

#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What both queues hold: a task, reduced to what a queue and its wakers see.
struct Task : ex::ReadyNode {
    std::atomic<bool> scheduled{false};    // LockedQueue's "queued already" flag (ex's is inside)
    std::atomic<std::uint64_t> pushed{0};  // the number of the latest wake, set before its push
    std::atomic<std::uint64_t> seen{0};    // written by the owner: `pushed` as its last pop read it
};

/// ex::ReadyQueue, with the interface the measurements use.
class TwoLists {
public:
    static constexpr const char* name = "ex::ReadyQueue (two lists)";
    explicit TwoLists(std::thread::id owner) : queue_(owner) {}
    bool push(Task* task) { return queue_.push(task); }
    Task* pop() { return static_cast<Task*>(queue_.pop()); }
    bool prepare_park() { return queue_.prepare_park(); }
    void end_park() { queue_.end_park(); }

private:
    ex::ReadyQueue<> queue_;
};

/// The queue of chapters 5 and 6: a std::deque of pointers under a std::mutex, the same
/// "queued already" flag and the same park protocol, but the lock for every push and pop.
class LockedQueue {
public:
    static constexpr const char* name = "std::mutex + std::deque";
    explicit LockedQueue(std::thread::id) {}
    bool push(Task* task) {
        // acq_rel: as ex::ReadyQueue's flag, paired with the pop that clears it.
        if (task->scheduled.exchange(true, std::memory_order_acq_rel)) return false;
        std::lock_guard lock(mutex_);
        tasks_.push_back(task);
        return std::exchange(parked_, false);
    }
    Task* pop() {
        Task* task = nullptr;
        {
            std::lock_guard lock(mutex_);
            if (tasks_.empty()) return nullptr;
            task = tasks_.front();
            tasks_.pop_front();
        }
        task->scheduled.exchange(false, std::memory_order_acq_rel);
        return task;
    }
    bool prepare_park() {
        std::lock_guard lock(mutex_);
        if (!tasks_.empty()) return false;
        parked_ = true;
        return true;
    }
    void end_park() {
        std::lock_guard lock(mutex_);
        parked_ = false;
    }

private:
    std::mutex mutex_;
    std::deque<Task*> tasks_;
    bool parked_ = false;
};

/// One thread: rounds of `batch` pushes then as many pops, for `duration`. Nanoseconds per push
/// and pop, and whether every pop gave the task pushed in that place.
template <class Queue>
double owner_alone(std::chrono::milliseconds duration, int batch, bool& ok) {
    Queue queue(std::this_thread::get_id());
    std::vector<Task> tasks(static_cast<std::size_t>(batch));
    std::uint64_t pairs = 0;
    const auto start = Clock::now();
    const auto end = start + duration;
    while (Clock::now() < end) {
        for (int round = 0; round < 64; ++round) {  // read the clock now and then only
            for (Task& task : tasks) queue.push(&task);
            for (Task& task : tasks) {
                if (queue.pop() != &task) ok = false;  // in order, every one
            }
        }
        pairs += 64 * static_cast<std::uint64_t>(batch);
    }
    if (queue.pop() != nullptr) ok = false;
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
    return ns / static_cast<double>(pairs);
}

/// What the cross-thread measurement saw.
struct CrossThread {
    double seconds = 0;
    std::uint64_t pops = 0;   // tasks the owner popped
    std::uint64_t wakes = 0;  // pushes that asked for a wake: eventfd writes
    std::uint64_t parks = 0;  // times the owner slept
    std::uint64_t lost = 0;   // tasks whose last push no pop saw
};

/// An eventfd, closed when it goes.
class EventFd {
public:
    EventFd() : fd_(::eventfd(0, EFD_CLOEXEC)) {
        if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    }
    EventFd(const EventFd&) = delete;
    EventFd& operator=(const EventFd&) = delete;
    ~EventFd() { ::close(fd_); }
    void signal() {
        const std::uint64_t one = 1;
        [[maybe_unused]] const ssize_t written = ::write(fd_, &one, sizeof one);
    }
    /// Sleeps until signalled (a blocking read), and takes every signal.
    void wait() {
        std::uint64_t count = 0;
        while (::read(fd_, &count, sizeof count) < 0 && errno == EINTR) {
        }
    }

private:
    int fd_;
};

/// `threads` threads wake their own `tasks_each` tasks, round and round, for `duration`, while
/// an owner thread pops them and parks on an eventfd when nothing is queued. A task is woken
/// again once the owner has popped it, so that every push queues it: what is measured is the
/// hand-over from thread to thread, not pushes that find the task queued already.
template <class Queue>
CrossThread other_threads(std::chrono::milliseconds duration, int threads, int tasks_each) {
    CrossThread result;
    std::vector<Task> tasks(static_cast<std::size_t>(threads) *
                            static_cast<std::size_t>(tasks_each));
    EventFd wake;
    std::atomic<bool> stop{false};      // the pushers stop
    std::atomic<bool> finished{false};  // the pushers have stopped: the owner drains and ends
    std::atomic<std::uint64_t> wakes{0};

    std::latch queue_made(1);
    std::optional<Queue> queue;
    std::thread owner([&] {
        queue_made.wait();
        for (;;) {
            const bool last = finished.load();
            while (Task* task = queue->pop()) {
                // relaxed load: the queue orders it after the store of its push. release: pairs
                // with the pusher's acquire, which then pushes it again.
                task->seen.store(task->pushed.load(std::memory_order_relaxed),
                                 std::memory_order_release);
                ++result.pops;
            }
            if (last) break;
            if (queue->prepare_park()) {
                ++result.parks;
                wake.wait();
                queue->end_park();
            }
        }
    });
    queue.emplace(owner.get_id());
    queue_made.count_down();

    const auto start = Clock::now();
    std::vector<std::thread> pushers;
    for (int t = 0; t < threads; ++t) {
        pushers.emplace_back([&, t] {
            std::uint64_t my_wakes = 0;
            Task* mine = &tasks[static_cast<std::size_t>(t) * static_cast<std::size_t>(tasks_each)];
            while (!stop.load(std::memory_order_relaxed)) {
                for (int i = 0; i < tasks_each; ++i) {
                    Task& task = mine[i];
                    const std::uint64_t last = task.pushed.load(std::memory_order_relaxed);
                    if (task.seen.load(std::memory_order_acquire) != last) continue;  // queued
                    task.pushed.store(last + 1, std::memory_order_relaxed);
                    if (queue->push(&task)) {
                        ++my_wakes;
                        wake.signal();
                    }
                }
            }
            wakes += my_wakes;
        });
    }
    std::this_thread::sleep_for(duration);
    stop = true;
    for (std::thread& pusher : pushers) pusher.join();
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    finished = true;
    wake.signal();  // the owner may be parked: nobody else will wake it now
    owner.join();

    result.wakes = wakes.load();
    for (const Task& task : tasks) {
        if (task.seen.load() != task.pushed.load()) ++result.lost;
    }
    return result;
}

std::string millions(double per_second) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f M", per_second / 1e6);
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    int duration_ms = 300;
    int batch = 256;
    int threads = 2;
    int tasks_each = 64;

    CLI::App app{
        "Exercise 07-01: an intrusive ready queue with a list the owner uses without a lock, "
        "against one std::deque under one std::mutex. Measures, for DURATION ms each: pushes and "
        "pops on the owner's thread alone (BATCH tasks pushed, then popped, over and over); then "
        "THREADS threads waking TASKS tasks each (a task again as soon as the owner has popped "
        "it), while the owner pops them and sleeps on an eventfd when none is queued. Checks "
        "that no push was lost.",
        "solution-07-01"};
    app.add_option("-d,--duration-ms", duration_ms, "how long each measurement runs, in ms")
        ->check(CLI::Range(10, 60'000))
        ->capture_default_str();
    app.add_option("-b,--batch", batch, "tasks queued at once on the owner's thread")
        ->check(CLI::Range(1, 1'000'000))
        ->capture_default_str();
    app.add_option("-t,--threads", threads, "threads that wake tasks of the owner")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    app.add_option("-k,--tasks", tasks_each, "tasks each of those threads wakes")
        ->check(CLI::Range(1, 100'000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const std::chrono::milliseconds duration(duration_ms);
    bool ok = true;

    std::printf("The owner's thread alone: %d tasks pushed, then popped, for %d ms\n\n", batch,
                duration_ms);
    bool in_order = true;
    const double locked_ns = owner_alone<LockedQueue>(duration, batch, in_order);
    const double two_lists_ns = owner_alone<TwoLists>(duration, batch, in_order);
    std::printf("  %-28s %8.1f ns per push and pop  (%s a second)\n", LockedQueue::name, locked_ns,
                millions(1e9 / locked_ns).c_str());
    std::printf("  %-28s %8.1f ns per push and pop  (%s a second)\n", TwoLists::name, two_lists_ns,
                millions(1e9 / two_lists_ns).c_str());
    std::printf("  the two lists take %.2fx the time of the locked deque%s\n\n",
                two_lists_ns / locked_ns, in_order ? "" : "  (BUG: a task came out of order)");
    ok = ok && in_order;

    std::printf(
        "%d thread(s) waking %d tasks each, for %d ms; the owner pops them, and sleeps\n"
        "on an eventfd when none is queued\n\n",
        threads, tasks_each, duration_ms);
    std::printf("  %-28s %14s %10s %10s %s\n", "", "tasks a second", "parks", "wakes",
                "(eventfd writes)");
    for (const bool two_lists : {false, true}) {
        const CrossThread r = two_lists ? other_threads<TwoLists>(duration, threads, tasks_each)
                                        : other_threads<LockedQueue>(duration, threads, tasks_each);
        std::printf("  %-28s %14s %10s %10s (%.1f per 1,000 tasks)\n",
                    two_lists ? TwoLists::name : LockedQueue::name,
                    millions(static_cast<double>(r.pops) / r.seconds).c_str(),
                    support::with_commas(r.parks).c_str(), support::with_commas(r.wakes).c_str(),
                    r.pops == 0 ? 0.0 : 1000.0 * static_cast<double>(r.wakes) / r.pops);
        if (r.lost != 0) {
            std::printf("  BUG: %s task(s) were last popped before their last push\n",
                        support::with_commas(r.lost).c_str());
            ok = false;
        }
        if (r.wakes > r.parks) {
            std::printf("  BUG: more wakes asked for (%s) than the owner parked (%s)\n",
                        support::with_commas(r.wakes).c_str(),
                        support::with_commas(r.parks).c_str());
            ok = false;
        }
    }
    std::printf("\n%s\n",
                ok ? "Every check held: every task came out in order on the owner's thread,\n"
                     "no push from another thread was lost, and no park was woken twice."
                   : "SOMETHING WENT WRONG (a bug).");
    return ok ? 0 : 1;
}
