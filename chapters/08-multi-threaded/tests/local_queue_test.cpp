// Tests of the pieces of the multi-threaded scheduler on their own: the worker's ring buffer
// (rt/multi_thread/local_queue.hpp: FIFO for its owner, steal-half for a thief, overflow in one
// batch, and every task taken exactly once while thieves and the owner race), and the Parker
// (rt/multi_thread/parker.hpp: an unpark is never lost, before or during a park). The queue
// holds tasks it never runs, so the tasks here are stand-ins that only count.
#include <doctest/doctest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "rt/multi_thread/driver.hpp"
#include "rt/multi_thread/local_queue.hpp"
#include "rt/multi_thread/parker.hpp"
#include "testing/eventually.hpp"

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int scale = 10;
#else
constexpr int scale = 1;
#endif

/// A task that is never polled: the queue only moves pointers (and links them into a TaskList
/// when it overflows). `id` says which one it is.
class StandIn : public rt::detail::Task {
public:
    explicit StandIn(int id) : id(id) {}
    bool poll() override { return true; }
    const int id;

private:
    void drop_future() override {}
    void destroy() noexcept override {}
};

std::vector<std::unique_ptr<StandIn>> stand_ins(int count) {
    std::vector<std::unique_ptr<StandIn>> tasks;
    for (int i = 0; i < count; ++i) tasks.push_back(std::make_unique<StandIn>(i));
    return tasks;
}

int id_of(rt::detail::Task* task) { return static_cast<StandIn*>(task)->id; }

/// An eventfd for a Driver made without a runtime.
class EventFd {
public:
    EventFd() : fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) { REQUIRE(fd >= 0); }
    ~EventFd() { ::close(fd); }
    const int fd;
};

/// An overflow that must not happen.
const auto no_overflow = [](rt::detail::TaskList&, std::size_t) { FAIL("the queue overflowed"); };

}  // namespace

TEST_CASE("the owner pops its tasks in the order it pushed them") {
    rt::detail::LocalQueue queue;
    auto tasks = stand_ins(10);
    for (auto& task : tasks) queue.push_back(task.get(), no_overflow);
    CHECK(queue.len() == 10);
    for (int i = 0; i < 10; ++i) {
        rt::detail::Task* task = queue.pop();
        REQUIRE(task != nullptr);
        CHECK(id_of(task) == i);
    }
    CHECK(queue.pop() == nullptr);
    CHECK(queue.is_empty());
}

TEST_CASE("a thief takes half of the tasks, rounded up, and runs the last it took") {
    for (int count : {1, 2, 3, 10, 255, 256}) {
        CAPTURE(count);
        rt::detail::LocalQueue victim;
        rt::detail::LocalQueue thief;
        auto tasks = stand_ins(count);
        for (auto& task : tasks) victim.push_back(task.get(), no_overflow);
        std::uint64_t stolen = 0;
        rt::detail::Task* run_now = victim.steal_into(thief, stolen);
        const int half = count - count / 2;
        REQUIRE(run_now != nullptr);
        CHECK(stolen == static_cast<std::uint64_t>(half));
        CHECK(id_of(run_now) == half - 1);  // the last of the oldest half
        CHECK(thief.len() == static_cast<std::uint32_t>(half - 1));
        CHECK(victim.len() == static_cast<std::uint32_t>(count - half));
        for (int i = 0; i < half - 1; ++i) CHECK(id_of(thief.pop()) == i);
        for (int i = half; i < count; ++i) CHECK(id_of(victim.pop()) == i);
    }
}

TEST_CASE("a thief finds nothing in an empty queue") {
    rt::detail::LocalQueue victim;
    rt::detail::LocalQueue thief;
    std::uint64_t stolen = 0;
    CHECK(victim.steal_into(thief, stolen) == nullptr);
    CHECK(stolen == 0);
}

TEST_CASE("a full queue moves its older half and the new task out in one batch, in order") {
    rt::detail::LocalQueue queue;
    const int capacity = static_cast<int>(rt::detail::LocalQueue::capacity);
    auto tasks = stand_ins(capacity + 1);
    for (int i = 0; i < capacity; ++i)
        queue.push_back(tasks[static_cast<std::size_t>(i)].get(), no_overflow);
    std::vector<int> moved;
    std::size_t reported = 0;
    const bool overflowed =
        queue.push_back(tasks.back().get(), [&](rt::detail::TaskList& batch, std::size_t count) {
            reported = count;
            while (rt::detail::Task* task = batch.pop_front()) moved.push_back(id_of(task));
        });
    CHECK(overflowed);
    REQUIRE(moved.size() == static_cast<std::size_t>(capacity / 2 + 1));
    CHECK(reported == moved.size());
    for (int i = 0; i < capacity / 2; ++i) CHECK(moved[static_cast<std::size_t>(i)] == i);
    CHECK(moved.back() == capacity);
    CHECK(queue.len() == static_cast<std::uint32_t>(capacity / 2));
    CHECK(id_of(queue.pop()) == capacity / 2);
}

TEST_CASE("slots are reused round the ring millions of times without losing a task") {
    // Millions of pushes, pops and steals: each slot is written and read again thousands of
    // times, with the owner's pops and a thief's steals taking turns at the head.
    rt::detail::LocalQueue queue;
    rt::detail::LocalQueue thief;
    auto tasks = stand_ins(3);
    const int rounds = 3'000'000 / scale;
    int wrong = 0;
    for (int round = 0; round < rounds; ++round) {
        queue.push_back(tasks[0].get(), no_overflow);
        queue.push_back(tasks[1].get(), no_overflow);
        if (id_of(queue.pop()) != 0) ++wrong;
        std::uint64_t stolen = 0;
        rt::detail::Task* task = queue.steal_into(thief, stolen);
        if (task == nullptr || id_of(task) != 1) ++wrong;
    }
    CHECK(wrong == 0);
    CHECK(queue.is_empty());
}

TEST_CASE("owner and thieves racing take every task exactly once") {
    std::uint64_t seed = std::random_device{}();
    if (const char* text = std::getenv("RT_STRESS_SEED")) seed = std::strtoull(text, nullptr, 10);
    INFO("RT_STRESS_SEED=" << seed);
    const int count = 400'000 / scale;
    auto tasks = stand_ins(count);
    std::vector<std::atomic<int>> taken(static_cast<std::size_t>(count));
    rt::detail::LocalQueue owner_queue;
    std::atomic<bool> done{false};
    std::atomic<int> overflowed{0};
    const auto take = [&](rt::detail::Task* task) {
        taken[static_cast<std::size_t>(id_of(task))]++;
    };

    std::vector<std::thread> thieves;
    for (int t = 0; t < 3; ++t) {
        thieves.emplace_back([&] {
            rt::detail::LocalQueue own;
            while (!done.load()) {
                std::uint64_t stolen = 0;
                if (rt::detail::Task* task = owner_queue.steal_into(own, stolen)) {
                    take(task);
                    while (rt::detail::Task* more = own.pop()) take(more);
                }
            }
        });
    }
    std::mt19937_64 random(seed);
    for (int next = 0; next < count;) {
        // A burst of pushes, then a few pops: the pattern the seed decides.
        const int burst = 1 + static_cast<int>(random() % 64);
        for (int i = 0; i < burst && next < count; ++i, ++next) {
            owner_queue.push_back(tasks[static_cast<std::size_t>(next)].get(),
                                  [&](rt::detail::TaskList& batch, std::size_t) {
                                      overflowed++;
                                      while (rt::detail::Task* task = batch.pop_front()) take(task);
                                  });
        }
        const int pops = static_cast<int>(random() % 48);
        for (int i = 0; i < pops; ++i) {
            if (rt::detail::Task* task = owner_queue.pop()) take(task);
        }
    }
    while (rt::detail::Task* task = owner_queue.pop()) take(task);
    done = true;
    for (auto& thief : thieves) thief.join();
    int lost = 0;
    int twice = 0;
    for (auto& count_of : taken) {
        lost += count_of.load() == 0;
        twice += count_of.load() > 1;
    }
    CHECK(lost == 0);
    CHECK(twice == 0);
}

TEST_CASE("a Parker keeps an unpark that comes before the park") {
    rt::detail::Parker parker;
    EventFd wake;
    rt::detail::Driver driver(wake.fd);
    parker.unpark(wake.fd);
    parker.unpark(wake.fd);  // two unparks, one token
    CHECK(parker.park(driver) == rt::detail::Parker::Slept::not_at_all);
}

TEST_CASE("an unpark from another thread ends a park on the condition variable") {
    rt::detail::Parker parker;
    EventFd wake;
    rt::detail::Driver driver(wake.fd);
    REQUIRE(driver.try_lock());  // held by "another worker": the park uses the condvar
    std::atomic<bool> returned{false};
    std::thread sleeper([&] {
        parker.park(driver);
        returned = true;
    });
    // Whether the unpark comes before the park or during it, the park returns.
    parker.unpark(wake.fd);
    CHECK_MESSAGE(testing::eventually([&] { return returned.load(); }),
                  "the unpark was lost: the parker still sleeps");
    if (!returned.load()) parker.unpark(wake.fd);  // let the thread end before it is joined
    sleeper.join();
    driver.unlock();
}
