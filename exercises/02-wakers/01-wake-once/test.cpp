// Tests of exercise 02-01, the specification of a task state for several workers: many wakes,
// one queue entry; a wake during a poll queues nothing until end_poll says so; no two polls at
// once; no lost wake; a finished task is never queued; every reference is released. The tests
// play the executor by hand; every wait is bounded, so none hangs, even against the starter.
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
#include "testing/eventually.hpp"

namespace {

using wake_once::AfterPoll;

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

/// Pop the task the test expects to find in the queue, as a worker would.
wake_once::Task* pop_expected(TestQueue& queue, const Owner& task) {
    wake_once::Task* popped = queue.pop();
    REQUIRE_MESSAGE(popped != nullptr, "the task should be in the queue, and the queue is empty");
    CHECK(popped == task.get());
    return popped;
}

/// What a worker does after a pending poll: push the task again with the popped entry's
/// reference, or release that reference.
void after_pending_poll(TestQueue& queue, wake_once::Task* popped) {
    if (popped->end_poll() == AfterPoll::requeue) {
        queue.push(popped);
    } else {
        popped->unref();
    }
}

/// Wakes `task` once through a waker, and requires it to be queued: the threaded tests start
/// with this, so that code whose wakes do nothing yet fails here at once, instead of after a
/// bounded wait for polls that never come.
void require_a_wake_queues(TestQueue& queue, const Owner& task) {
    task->waker().wake_by_ref();
    REQUIRE_MESSAGE(queue.size() == 1, "waking an idle task through a waker must queue it once");
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

    TEST_CASE(
        "wakes between the pop and the poll queue nothing: the poll about to start sees them") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        task->schedule();
        task->schedule();
        CHECK(queue.pushes() == 1);
        REQUIRE(popped->begin_poll());
        CHECK(popped->end_poll() == AfterPoll::idle);  // the poll answered those wakes
        popped->unref();
        CHECK(queue.size() == 0);
    }

    TEST_CASE("a wake during a poll queues nothing: the task is still being polled") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        // The poll is running. Queueing the task now would let a second worker pop it and poll
        // it while this poll still runs.
        for (int i = 0; i < 3; ++i) task->schedule();
        CHECK(queue.pushes() == 1);
        CHECK(queue.size() == 0);
        after_pending_poll(queue, popped);
    }

    TEST_CASE("a poll during which the task was woken ends with requeue, and it is queued once") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        task->schedule();  // during the poll: the future may have looked already, found nothing
        REQUIRE(popped->end_poll() == AfterPoll::requeue);
        queue.push(popped);  // the worker queues it again, with the popped entry's reference
        task->schedule();    // it is on its way back already: no second entry
        CHECK(queue.pushes() == 2);
        CHECK(queue.size() == 1);
        CHECK(task->refs() == 2);  // ours, and the one entry's
        wake_once::Task* again = pop_expected(queue, task);
        CHECK(again->begin_poll());  // the next poll, which will see what the wake announced
        after_pending_poll(queue, again);
    }

    TEST_CASE("a poll during which nobody woke the task ends idle, and the next wake queues it") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        CHECK(popped->end_poll() == AfterPoll::idle);
        popped->unref();
        CHECK(queue.size() == 0);
        task->schedule();
        CHECK(queue.pushes() == 2);
        CHECK(task->refs() == 2);
    }

    TEST_CASE("every poll lets the task be queued once more, and only once") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        for (int poll = 0; poll < 10; ++poll) {
            task->schedule();
            task->schedule();
            wake_once::Task* popped = pop_expected(queue, task);
            REQUIRE(popped->begin_poll());
            REQUIRE(popped->end_poll() == AfterPoll::idle);
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

    TEST_CASE("a task woken during its last poll is not queued again") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        task->schedule();  // during the poll that turns out to be the last one
        popped->finish();  // instead of end_poll: nothing to queue again
        popped->unref();
        task->schedule();
        CHECK(queue.pushes() == 1);
        CHECK(queue.size() == 0);
        CHECK(task->refs() == 1);
    }

    TEST_CASE("a task finished while it waits in the queue is not polled") {
        // Shutdown: the executor finishes every task, queued ones included, then drops what the
        // queue still holds. A worker that pops such an entry must not poll it.
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        task->schedule();
        task->finish();
        wake_once::Task* popped = pop_expected(queue, task);
        CHECK_FALSE(popped->begin_poll());
        popped->unref();
        task->schedule();
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 1);
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

    TEST_CASE("waking by value queues the task and gives up the waker's reference") {
        TestQueue queue;
        Owner task(new wake_once::Task(queue));
        rt::Waker first = task->waker();
        rt::Waker second = first;
        rt::Waker third = first;
        std::move(first).wake();   // queues the task
        std::move(second).wake();  // already queued: no entry, but the reference still goes
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 3);  // ours, the third waker's, the queue entry's
        wake_once::Task* popped = pop_expected(queue, task);
        REQUIRE(popped->begin_poll());
        std::move(third).wake();  // during the poll: nothing queued, the reference still goes
        CHECK(queue.pushes() == 1);
        CHECK(task->refs() == 2);  // ours, and the popped entry's
        after_pending_poll(queue, popped);
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
                // Poll what this round queued; nobody wakes the task meanwhile, so each poll
                // should end idle. Taking the entries first keeps a wrong `requeue` from
                // looping here for ever: it shows up as an extra entry in the next round.
                std::vector<wake_once::Task*> popped;
                while (wake_once::Task* entry = queue.pop()) popped.push_back(entry);
                for (wake_once::Task* entry : popped) {
                    if (entry->begin_poll()) {
                        after_pending_poll(queue, entry);
                    } else {
                        entry->unref();
                    }
                }
            }
            for (auto& thread : wakers) thread.join();
        }
        CHECK(rounds_with_one_entry == rounds);
        queue.release_all();
        CHECK(task->refs() == 1);
    }

    TEST_CASE("two workers polling a task woken from four threads never poll it at once") {
        // The executor of chapter 8 in miniature: two workers pop from one shared queue and
        // poll what they pop, while four threads make events and wake the task after each.
        // The poll notes the events it saw. Checked: (a) no two polls ever overlap, (b) no wake
        // is lost: some poll sees every event, (c) the task is never in the queue twice, nor
        // in the queue while it is being polled.
        constexpr int wakers = 4;
        constexpr int events_per_waker = 20'000;
        constexpr std::uint64_t all_events = std::uint64_t{wakers} * events_per_waker;
        TestQueue queue;
        auto freed = std::make_shared<std::atomic<int>>(0);
        Owner task(new TrackedTask(queue, freed));
        require_a_wake_queues(queue, task);

        // The test's own atomics are relaxed: they must not order one poll after another, or
        // the events after their wakes; that is the task's state word's job, and relaxed
        // counters leave it to the state word to do. (Each is still read whole and never
        // races; `polling` still tells two polls at once apart by its modification order.)
        std::atomic<std::uint64_t> events{0};     // made by the wakers
        std::atomic<std::uint64_t> last_seen{0};  // events, as the latest poll saw them
        std::atomic<bool> polling{false};         // a poll is running
        std::atomic<int> overlaps{0};             // polls that began while another ran
        std::atomic<int> queued_while_polled{0};  // polls that found the task in the queue
        std::atomic<bool> stop{false};
        // The future's own state, written by every poll without atomics, as a real future's
        // is. Two polls at once race on it; so do two polls on two workers that the state word
        // does not order, and ThreadSanitizer can then report it.
        std::uint64_t polls = 0;
        constexpr auto relaxed = std::memory_order_relaxed;

        auto worker = [&] {
            while (!stop.load()) {
                wake_once::Task* popped = queue.pop();
                if (popped == nullptr) {
                    std::this_thread::yield();
                    continue;
                }
                if (!popped->begin_poll()) {
                    popped->unref();
                    continue;
                }
                if (polling.exchange(true, relaxed)) overlaps.fetch_add(1, relaxed);
                // Before the write to `polls`, so that the queue's lock, taken here, does not
                // order that write before the next poll on the other worker.
                if (queue.size() != 0) queued_while_polled.fetch_add(1, relaxed);
                ++polls;
                last_seen.store(events.load(relaxed), relaxed);
                std::this_thread::yield();  // a longer poll: more wakes land during it
                polling.store(false, relaxed);
                after_pending_poll(queue, popped);
                // Give a waker and the other worker a moment to take the task from here, before
                // this worker's next pop takes the queue's lock (which would order them too).
                std::this_thread::yield();
            }
        };
        std::vector<std::thread> threads;
        for (int w = 0; w < 2; ++w) threads.emplace_back(worker);
        {
            rt::Waker waker = task->waker();
            std::vector<std::thread> waking;
            for (int t = 0; t < wakers; ++t) {
                waking.emplace_back([&events, mine = waker] {
                    for (int i = 0; i < events_per_waker; ++i) {
                        events.fetch_add(1, relaxed);
                        mine.wake_by_ref();
                    }
                });
            }
            for (auto& thread : waking) thread.join();
        }
        // Every wake is made. If none was lost, a poll after the last one sees every event.
        const bool all_seen =
            testing::eventually([&] { return last_seen.load(relaxed) == all_events; });
        stop.store(true);
        for (auto& thread : threads) thread.join();

        CAPTURE(polls);
        CHECK_MESSAGE(all_seen, "a wake was lost: no poll saw all ", all_events,
                      " events, the "
                      "latest saw ",
                      last_seen.load());
        CHECK_MESSAGE(overlaps.load() == 0, "two workers polled the task at the same time");
        CHECK_MESSAGE(queued_while_polled.load() == 0,
                      "the task was in the queue while a worker polled it");
        CHECK_MESSAGE(queue.most_at_once() == 1, "the task was in the queue more than once");
        queue.release_all();
        CHECK(task->refs() == 1);  // ours: every waker and every entry is gone
        task.release();
        CHECK(freed->load() == 1);
    }

    TEST_CASE("wakes racing with the last poll never queue the finished task, nor leak") {
        // Four threads keep waking the task. The test's thread is the worker: its poll answers
        // ready once it sees half of all events, and it finishes the task. Wakes after that,
        // or during that last poll, must queue nothing and take no reference.
        constexpr int wakers = 4;
        constexpr int events_per_waker = 10'000;
        constexpr std::uint64_t all_events = std::uint64_t{wakers} * events_per_waker;
        TestQueue queue;
        auto freed = std::make_shared<std::atomic<int>>(0);
        Owner task(new TrackedTask(queue, freed));
        require_a_wake_queues(queue, task);

        std::atomic<std::uint64_t> events{0};
        std::size_t pushes_when_finished = 0;
        bool finished = false;
        {
            rt::Waker waker = task->waker();
            std::vector<std::thread> waking;
            for (int t = 0; t < wakers; ++t) {
                waking.emplace_back([&events, mine = waker] {
                    for (int i = 0; i < events_per_waker; ++i) {
                        events.fetch_add(1);
                        mine.wake_by_ref();
                    }
                });
            }
            // Events keep coming until all_events, and no wake may be lost, so some poll sees
            // half of them: the wait ends with the task finished, or fails.
            finished = testing::eventually([&] {
                while (wake_once::Task* popped = queue.pop()) {
                    if (!popped->begin_poll()) {
                        popped->unref();
                        continue;
                    }
                    if (events.load() >= all_events / 2) {
                        popped->finish();
                        pushes_when_finished = queue.pushes();
                        popped->unref();
                        return true;
                    }
                    after_pending_poll(queue, popped);
                }
                return false;
            });
            for (auto& thread : waking) thread.join();
        }
        REQUIRE_MESSAGE(finished, "no poll saw half of the events: a wake was lost");
        CHECK_MESSAGE(queue.size() == 0, "the task was queued during its last poll, or after it");
        CHECK(queue.pushes() == pushes_when_finished);
        queue.release_all();
        CHECK(task->refs() == 1);  // ours: every waker is gone, no wake took a reference
        task.release();
        CHECK(freed->load() == 1);
    }
}
