// Tests of exercise 02-01, the specification of wake: many wakes, one queue entry; a wake after
// begin_poll queues the task again; a complete task is never queued; every reference is
// released. The tests play the executor by hand, so none can hang, even against the starter.
#include <doctest/doctest.h>

#include <wake_once.hpp>

#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "rt/waker.hpp"

namespace {

/// The tests' ready queue: a list of queued tasks any thread may push to. It counts every
/// push, and remembers the most entries it ever held at once.
class TestQueue final : public wake_once::ReadyQueue {
public:
    ~TestQueue() { release_all(); }

    void push(wake_once::Task* task) override {
        std::lock_guard lock(mutex_);
        ++pushes_;
        tasks_.push_back(task);
        if (tasks_.size() > most_) most_ = tasks_.size();
    }

    /// The oldest entry, or nullptr; the caller owns the entry's reference.
    wake_once::Task* pop() {
        std::lock_guard lock(mutex_);
        if (tasks_.empty()) return nullptr;
        wake_once::Task* task = tasks_.front();
        tasks_.pop_front();
        return task;
    }

    /// Drop every entry, releasing their references.
    void release_all() {
        while (wake_once::Task* task = pop()) task->unref();
    }

    std::size_t pushes() {
        std::lock_guard lock(mutex_);
        return pushes_;
    }
    std::size_t size() {
        std::lock_guard lock(mutex_);
        return tasks_.size();
    }
    std::size_t most_at_once() {
        std::lock_guard lock(mutex_);
        return most_;
    }

private:
    std::mutex mutex_;
    std::deque<wake_once::Task*> tasks_;  // each entry owns one reference
    std::size_t pushes_ = 0;              // every push, ever
    std::size_t most_ = 0;                // the largest tasks_.size() seen
};

/// A task that counts, in a counter the test keeps, when it is freed.
class TrackedTask final : public wake_once::Task {
public:
    TrackedTask(wake_once::ReadyQueue& queue, std::shared_ptr<std::atomic<int>> freed)
        : Task(queue), freed_(std::move(freed)) {}

private:
    ~TrackedTask() override { freed_->fetch_add(1); }
    std::shared_ptr<std::atomic<int>> freed_;
};

/// The test's own reference to a task, released at the end of the test (unless released
/// by hand before, with release()).
class Owner {
public:
    explicit Owner(wake_once::Task* task) : task_(task) {}
    Owner(const Owner&) = delete;
    Owner& operator=(const Owner&) = delete;
    ~Owner() { release(); }
    wake_once::Task* operator->() const { return task_; }
    wake_once::Task* get() const { return task_; }
    void release() {
        if (task_ != nullptr) std::exchange(task_, nullptr)->unref();
    }

private:
    wake_once::Task* task_;
};

/// Pop the task the test expects to find in the queue, as the executor would.
wake_once::Task* pop_expected(TestQueue& queue, const Owner& task) {
    wake_once::Task* popped = queue.pop();
    REQUIRE_MESSAGE(popped != nullptr, "the task should be in the queue, and the queue is empty");
    CHECK(popped == task.get());
    return popped;
}

}  // namespace

TEST_SUITE("wake_once") {
    TEST_CASE("a task woken many times before it runs is queued once") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        for (int i = 0; i < 5; ++i) task->schedule();
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 2);  // ours, and the queue entry's
    }

    TEST_CASE("popping the task is not enough: wakes queue it again only after begin_poll") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        task->schedule();  // popped, not polled yet: this poll will see what the wake announced
        CHECK(queue.pushes() == 1);
        REQUIRE(popped->begin_poll());
        task->schedule();
        CHECK(queue.pushes() == 2);
        popped->unref();
    }

    TEST_CASE("a wake that arrives while the task is polled queues it again, once") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        // The poll is running: its future may already have found nothing to do and be about
        // to answer pending. These wakes must bring the task back, in one entry.
        for (int i = 0; i < 3; ++i) task->schedule();
        popped->unref();  // the poll is over
        CHECK(queue.pushes() == 2);
        CHECK(queue.size() == 1);
    }

    TEST_CASE("every poll lets the task be queued once more, and only once") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        for (int poll = 0; poll < 10; ++poll) {
            task->schedule();
            task->schedule();
            wake_once::Task* popped = pop_expected(queue, task);
            REQUIRE(popped->begin_poll());
            popped->unref();
        }
        CHECK(queue.pushes() == 10);
        CHECK(task->refs() == 1);  // every entry's reference was released
    }

    TEST_CASE("a finished task is never queued however often it is woken, nor takes a reference") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        popped->finish();  // the future was ready
        popped->unref();
        for (int i = 0; i < 100; ++i) task->schedule();
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 1);
    }

    TEST_CASE("a task woken during its last poll is queued, but begin_poll refuses to poll it") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        task->schedule();  // during the poll that turns out to be the last one
        popped->finish();
        popped->unref();
        CHECK(queue.pushes() == 2);
        wake_once::Task* again = pop_expected(queue, task);
        CHECK_FALSE(again->begin_poll());  // complete: the executor drops the entry unpolled
        again->unref();
        task->schedule();
        CHECK(queue.pushes() == 2);
    }

    TEST_CASE("cloning a waker takes a reference and dropping a waker releases one") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        {
            rt::Waker waker = task->waker();
            CHECK(task->refs() == 2);
            {
                rt::Waker copy = waker;
                rt::Waker another = copy;
                CHECK(task->refs() == 4);
                CHECK(copy.will_wake(waker));  // a clone wakes the same task
            }
            CHECK(task->refs() == 2);
        }
        CHECK(task->refs() == 1);
        CHECK(queue.pushes() == 0);  // dropping wakes nobody
    }

    TEST_CASE("wake_by_ref queues the task and the waker keeps its reference") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        rt::Waker waker = task->waker();
        waker.wake_by_ref();
        waker.wake_by_ref();
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 3);  // ours, the waker's, the queue entry's
    }

    TEST_CASE("waking by value queues the task and releases the waker's reference") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        rt::Waker first = task->waker();
        rt::Waker second = first;
        std::move(first).wake();
        std::move(second).wake();  // already queued: no entry, but the reference still goes
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 2);  // ours, and the queue entry's
    }

    TEST_CASE("a task lives until its last reference is gone, a queue entry's included") {
        TestQueue queue;
        auto freed = std::make_shared<std::atomic<int>>(0);
        Owner task(new TrackedTask(queue, freed));
        rt::Waker waker = task->waker();
        rt::Waker copy = waker;
        std::move(waker).wake();  // the queue entry now holds a reference
        task.release();
        { rt::Waker gone = std::move(copy); }
        CHECK(freed->load() == 0);  // the queue entry still holds it
        wake_once::Task* popped = queue.pop();
        REQUIRE_MESSAGE(popped != nullptr, "the wake should have queued the task");
        popped->unref();
        CHECK(freed->load() == 1);
    }

    TEST_CASE("8 threads waking 10,000 times each queue the task once and leak no reference") {
        constexpr int threads = 8;
        constexpr int wakes_per_thread = 10'000;
        TestQueue queue;
        auto freed = std::make_shared<std::atomic<int>>(0);
        Owner task(new TrackedTask(queue, freed));
        {
            rt::Waker waker = task->waker();
            std::atomic<bool> go{false};
            std::vector<std::thread> wakers;
            for (int t = 0; t < threads; ++t) {
                wakers.emplace_back([&go, mine = waker]() mutable {
                    while (!go.load()) std::this_thread::yield();  // start all at once
                    for (int i = 0; i < wakes_per_thread - 1; ++i) mine.wake_by_ref();
                    std::move(mine).wake();  // the last one by value: it releases the clone
                });
            }
            go.store(true);
            for (auto& thread : wakers) thread.join();
        }
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 2);  // ours, and the queue entry's: every waker is gone
        queue.release_all();
        task.release();
        CHECK(freed->load() == 1);
    }

    TEST_CASE("threads that wake a task at the same moment queue it once, round after round") {
        // Only the first wake after a poll may push, so that is where wakers race: every round
        // lets 8 threads make that first wake together, then polls the task.
        constexpr int threads = 8;
        constexpr int rounds = 1'000;
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        std::barrier sync(threads + 1);
        int rounds_with_one_entry = 0;
        {
            rt::Waker waker = task->waker();
            std::vector<std::thread> wakers;
            for (int t = 0; t < threads; ++t) {
                wakers.emplace_back([&sync, mine = waker] {
                    for (int round = 0; round < rounds; ++round) {
                        sync.arrive_and_wait();  // the round starts: all wake together
                        mine.wake_by_ref();
                        sync.arrive_and_wait();  // every thread has woken the task
                    }
                });
            }
            for (int round = 0; round < rounds; ++round) {
                sync.arrive_and_wait();
                sync.arrive_and_wait();
                if (queue.size() == 1) ++rounds_with_one_entry;
                while (wake_once::Task* popped = queue.pop()) {
                    (void)popped->begin_poll();  // the poll: the next wake may push again
                    popped->unref();
                }
            }
            for (auto& thread : wakers) thread.join();
        }
        CHECK(rounds_with_one_entry == rounds);
        CHECK(task->refs() == 1);
    }

    TEST_CASE("wakes racing with polls are never lost, and never queue the task twice") {
        // The test's thread plays the executor: pop, begin_poll, then "poll", which reads how
        // many events happened. Four threads make events and wake the task after each. When
        // they are done and the queue is empty, the last poll must have seen every event.
        constexpr int threads = 4;
        constexpr int events_per_thread = 20'000;
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        std::atomic<int> events{0};
        std::atomic<int> finished_threads{0};
        int seen = 0;
        int polls = 0;
        {
            rt::Waker waker = task->waker();
            std::vector<std::thread> wakers;
            for (int t = 0; t < threads; ++t) {
                wakers.emplace_back([&, mine = waker] {
                    for (int i = 0; i < events_per_thread; ++i) {
                        events.fetch_add(1);
                        mine.wake_by_ref();
                    }
                    finished_threads.fetch_add(1);
                });
            }
            for (;;) {
                const bool all_finished = finished_threads.load() == threads;  // before the pop
                if (wake_once::Task* popped = queue.pop()) {
                    if (popped->begin_poll()) {
                        ++polls;
                        seen = events.load();
                    }
                    popped->unref();
                } else if (all_finished) {
                    break;  // no more wakes can come, and nothing is queued
                } else {
                    std::this_thread::yield();
                }
            }
            for (auto& thread : wakers) thread.join();
        }
        CAPTURE(polls);
        CHECK(seen == threads * events_per_thread);  // no wake was lost
        CHECK(queue.most_at_once() == 1);            // and none queued the task twice
        CHECK(task->refs() == 1);
    }
}
