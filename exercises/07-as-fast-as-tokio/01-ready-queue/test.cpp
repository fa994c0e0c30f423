// Tests of exercise 07-01, the specification of ex::ReadyQueue: nodes come out in the order they
// were queued, each at most once however many threads push it; the owner's pushes and pops take
// no lock; a node pushed from another thread joins the owner's list at the next pop and is
// never overtaken for ever; a push from another thread asks for a wake exactly when the owner
// is parked, once per park, and a park never sleeps through a push. No verdict depends on how
// fast the machine is: what other threads do is put in order by joins and barriers, and the
// tests where threads race check what must hold in every interleaving.
#include <doctest/doctest.h>

#include <ready_queue.hpp>

#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <latch>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "testing/eventually.hpp"
#include "testing/printing.hpp"

namespace {

// The interface.
static_assert(std::is_same_v<decltype(std::declval<ex::ReadyQueue<>&>().push(nullptr)), bool>);
static_assert(std::is_same_v<decltype(std::declval<ex::ReadyQueue<>&>().pop()), ex::ReadyNode*>);
static_assert(!std::is_copy_constructible_v<ex::ReadyNode>);

/// What the tests queue: a node with a name.
struct Item : ex::ReadyNode {
    explicit Item(int id = 0) : id(id) {}
    int id;
};

/// The id of a popped node, or -1 for nullptr: doctest prints a failed CHECK(id_of(...) == 2).
int id_of(ex::ReadyNode* node) { return node == nullptr ? -1 : static_cast<Item*>(node)->id; }

/// How many times this thread has taken a CountingMutex.
thread_local int locks_taken = 0;

/// A std::mutex that counts, per thread, how often it is locked.
class CountingMutex {
public:
    void lock() {
        ++locks_taken;
        mutex_.lock();
    }
    bool try_lock() {
        if (!mutex_.try_lock()) return false;
        ++locks_taken;
        return true;
    }
    void unlock() { mutex_.unlock(); }

private:
    std::mutex mutex_;
};

/// Runs `body` on a new thread and waits for it: "another thread", in order with this one.
template <class Body>
void on_another_thread(Body body) {
    std::thread(body).join();
}

/// At most `limit` pops, the ids in order; stops at the first nullptr (not included). Bounded,
/// so that a list that loops (a node linked twice) cannot hang the test.
template <class Queue>
std::vector<int> drain(Queue& queue, int limit = 100) {
    std::vector<int> ids;
    for (int i = 0; i < limit; ++i) {
        ex::ReadyNode* node = queue.pop();
        if (node == nullptr) break;
        ids.push_back(id_of(node));
    }
    return ids;
}

using Ids = std::vector<int>;

}  // namespace

TEST_SUITE("ready queue: the intrusive list") {
    TEST_CASE("a list gives its nodes back in the order they were pushed, then nothing") {
        ex::NodeList list;
        Item a(1), b(2), c(3);
        CHECK(list.empty());
        CHECK(list.pop_front() == nullptr);
        list.push_back(&a);
        CHECK_FALSE(list.empty());
        list.push_back(&b);
        list.push_back(&c);
        CHECK(id_of(list.pop_front()) == 1);
        CHECK(id_of(list.pop_front()) == 2);
        CHECK(id_of(list.pop_front()) == 3);
        CHECK(list.pop_front() == nullptr);
        CHECK(list.empty());
    }

    TEST_CASE("append moves every node of the other list to the back, in order, and empties it") {
        ex::NodeList first, second, empty;
        Item a(1), b(2), c(3), d(4);
        first.push_back(&a);
        first.push_back(&b);
        second.push_back(&c);
        second.push_back(&d);
        first.append(second);
        CHECK(second.empty());
        CHECK(second.pop_front() == nullptr);
        first.append(empty);  // appending nothing changes nothing
        Item e(5);
        first.push_back(&e);  // the tail is the other list's old tail now
        Ids ids;
        while (ex::ReadyNode* node = first.pop_front()) {
            ids.push_back(id_of(node));
            if (ids.size() > 10) break;  // a loop in the list
        }
        CHECK(ids == Ids{1, 2, 3, 4, 5});
    }

    TEST_CASE("appending to an empty list gives it the other's nodes") {
        ex::NodeList target, source;
        Item a(1), b(2);
        source.push_back(&a);
        source.push_back(&b);
        target.append(source);
        CHECK(source.empty());
        CHECK(id_of(target.pop_front()) == 1);
        CHECK(id_of(target.pop_front()) == 2);
        CHECK(target.pop_front() == nullptr);
    }

    TEST_CASE("a node popped from a list may be pushed again, at the back") {
        ex::NodeList list;
        Item a(1), b(2);
        list.push_back(&a);
        list.push_back(&b);
        CHECK(id_of(list.pop_front()) == 1);
        list.push_back(&a);
        CHECK(id_of(list.pop_front()) == 2);
        CHECK(id_of(list.pop_front()) == 1);
        CHECK(list.pop_front() == nullptr);
    }
}

TEST_SUITE("ready queue: the owner's thread") {
    TEST_CASE("nodes pushed on the owner's thread pop in the order they were pushed") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2), c(3);
        CHECK(queue.pop() == nullptr);
        queue.push(&a);
        queue.push(&b);
        queue.push(&c);
        CHECK(drain(queue) == Ids{1, 2, 3});
        CHECK(queue.pop() == nullptr);
    }

    TEST_CASE("a node pushed again before it is popped is queued once") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2);
        queue.push(&a);
        queue.push(&a);
        queue.push(&b);
        queue.push(&a);
        CHECK(drain(queue) == Ids{1, 2});
    }

    TEST_CASE("queued() is true from the push to the pop that hands the node out") {
        ex::ReadyQueue<> queue;
        Item a(1);
        CHECK_FALSE(a.queued());
        queue.push(&a);
        CHECK(a.queued());
        CHECK(id_of(queue.pop()) == 1);
        CHECK_FALSE(a.queued());
    }

    TEST_CASE("a popped node is queued again by its next push, even before it has run") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2);
        queue.push(&a);
        queue.push(&b);
        CHECK(id_of(queue.pop()) == 1);
        queue.push(&a);  // woken while it runs: it goes behind b
        CHECK(drain(queue) == Ids{2, 1});
    }

    TEST_CASE("pushes and pops on the owner's thread take no lock and ask for no wake") {
        ex::ReadyQueue<CountingMutex> queue;
        std::array<Item, 16> items;
        const int before = locks_taken;
        int wakes = 0;
        for (int round = 0; round < 100; ++round) {
            for (Item& item : items) wakes += queue.push(&item) ? 1 : 0;
            for (Item& item : items) wakes += queue.push(&item) ? 1 : 0;  // queued already
            int popped = 0;
            while (queue.pop() != nullptr && popped <= 16) ++popped;
            CHECK(popped == 16);
        }
        CHECK(queue.pop() == nullptr);
        CHECK_MESSAGE(locks_taken == before,
                      "the owner took the lock for pushes and pops no other thread was part of");
        CHECK(wakes == 0);
    }
}

TEST_SUITE("ready queue: pushes from other threads") {
    TEST_CASE("nodes pushed from another thread are popped by the owner, in their order") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2), c(3);
        on_another_thread([&] {
            queue.push(&a);
            queue.push(&b);
            queue.push(&c);
        });
        CHECK(drain(queue) == Ids{1, 2, 3});
        CHECK_FALSE(a.queued());
    }

    TEST_CASE("a node pushed from both sides before it is popped is queued once") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2);
        queue.push(&a);
        on_another_thread([&] {
            queue.push(&a);
            queue.push(&b);
            queue.push(&b);
        });
        queue.push(&b);
        CHECK(drain(queue) == Ids{1, 2});
    }

    TEST_CASE("at every pop, what other threads pushed joins the back of the owner's list") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2), r1(11), r2(12);
        queue.push(&a);
        on_another_thread([&] { queue.push(&r1); });
        CHECK(id_of(queue.pop()) == 1);  // r1 joins the owner's list, behind nothing
        queue.push(&b);                  // b goes behind r1
        on_another_thread([&] { queue.push(&r2); });
        CHECK(id_of(queue.pop()) == 11);  // r2 joins, behind b
        CHECK(drain(queue) == Ids{2, 12});
    }

    TEST_CASE("a node pushed from another thread is not overtaken for ever by the owner's") {
        // A task that yields for ever is pushed again each time it is popped; a task woken from
        // afar must still run, at the second pop.
        ex::ReadyQueue<> queue;
        Item yielder(1), remote(2);
        queue.push(&yielder);
        on_another_thread([&] { queue.push(&remote); });
        Ids ids;
        for (int i = 0; i < 4; ++i) {
            ex::ReadyNode* node = queue.pop();
            ids.push_back(id_of(node));
            if (node == &yielder) queue.push(&yielder);
        }
        CHECK(ids == Ids{1, 2, 1, 1});
    }

    TEST_CASE("a pop takes the lock only when another thread has pushed since the last look") {
        ex::ReadyQueue<CountingMutex> queue;
        Item local(1), remote(2);
        const int before = locks_taken;
        on_another_thread([&] { queue.push(&remote); });
        CHECK(id_of(queue.pop()) == 2);
        CHECK(locks_taken == before + 1);
        CHECK(queue.pop() == nullptr);
        queue.push(&local);
        CHECK(id_of(queue.pop()) == 1);
        CHECK(queue.pop() == nullptr);
        CHECK_MESSAGE(locks_taken == before + 1,
                      "a pop took the lock when no other thread had pushed anything");
    }

    TEST_CASE("a push from another thread takes the lock") {
        ex::ReadyQueue<CountingMutex> queue;
        Item a(1);
        int locks_on_pusher = 0;
        on_another_thread([&] {
            const int before = locks_taken;
            queue.push(&a);
            locks_on_pusher = locks_taken - before;
        });
        CHECK(locks_on_pusher == 1);
        CHECK(id_of(queue.pop()) == 1);
    }
}

TEST_SUITE("ready queue: parking the owner") {
    TEST_CASE("a push from another thread asks for no wake while the owner is not parked") {
        ex::ReadyQueue<> queue;
        Item a(1);
        bool wake = true;
        on_another_thread([&] { wake = queue.push(&a); });
        CHECK_FALSE(wake);
        CHECK(id_of(queue.pop()) == 1);
    }

    TEST_CASE("after the owner parks, the first push from another thread asks for a wake") {
        ex::ReadyQueue<> queue;
        Item a(1), b(2), c(3);
        REQUIRE(queue.prepare_park());
        Ids wakes(3, -1);  // 1: the push asked for a wake
        on_another_thread([&] {
            wakes[0] = queue.push(&a);  // the owner sleeps: wake it
            wakes[1] = queue.push(&b);  // it has been woken already
        });
        queue.end_park();
        on_another_thread([&] { wakes[2] = queue.push(&c); });  // it is awake
        CHECK(wakes == Ids{1, 0, 0});
        CHECK(drain(queue) == Ids{1, 2, 3});
    }

    TEST_CASE("each park asks for its own wake") {
        ex::ReadyQueue<> queue;
        Item a(1);
        for (int round = 0; round < 3; ++round) {
            REQUIRE(queue.prepare_park());
            bool wake = false;
            on_another_thread([&] { wake = queue.push(&a); });
            CHECK(wake);
            queue.end_park();
            CHECK(id_of(queue.pop()) == 1);
        }
    }

    TEST_CASE("a push of a node queued already asks for no wake") {
        ex::ReadyQueue<> queue;
        Item a(1);
        REQUIRE(queue.prepare_park());
        bool first = false, second = true;
        on_another_thread([&] {
            first = queue.push(&a);
            second = queue.push(&a);
        });
        CHECK(first);
        CHECK_FALSE(second);
        queue.end_park();
        CHECK(drain(queue) == Ids{1});
    }

    TEST_CASE("the owner does not park while a node waits in either list") {
        ex::ReadyQueue<> queue;
        Item local(1), remote(2);
        queue.push(&local);
        CHECK_FALSE(queue.prepare_park());
        CHECK(id_of(queue.pop()) == 1);
        // Pushed while the owner was awake: this push woke nobody, so a park now would sleep
        // through it.
        on_another_thread([&] { queue.push(&remote); });
        CHECK_FALSE_MESSAGE(queue.prepare_park(),
                            "the owner parked with a node from another thread in the queue");
        CHECK(id_of(queue.pop()) == 2);
        CHECK(queue.prepare_park());
        queue.end_park();
    }
}

TEST_SUITE("ready queue: threads racing") {
    TEST_CASE("threads pushing the same node at the same moment queue it once, and wake once") {
        constexpr int threads = 8;
        constexpr int rounds = 200;
        ex::ReadyQueue<> queue;  // owned by this thread, which pops between rounds
        Item node(1);
        std::barrier sync(threads + 1);  // the pushers and this thread
        std::atomic<int> wakes{0};
        std::vector<std::thread> pushers;
        for (int t = 0; t < threads; ++t) {
            pushers.emplace_back([&] {
                for (int round = 0; round < rounds; ++round) {
                    sync.arrive_and_wait();  // the owner has parked: push, all at once
                    if (queue.push(&node)) wakes.fetch_add(1);
                    sync.arrive_and_wait();  // every push is done
                }
            });
        }
        int rounds_queued_once = 0, rounds_woken_once = 0;
        for (int round = 0; round < rounds; ++round) {
            const bool parked = queue.prepare_park();
            sync.arrive_and_wait();
            sync.arrive_and_wait();
            if (parked) queue.end_park();
            if (parked && wakes.exchange(0) == 1) ++rounds_woken_once;
            if (drain(queue, 3) == Ids{1}) ++rounds_queued_once;
        }
        for (std::thread& pusher : pushers) pusher.join();
        CHECK_MESSAGE(rounds_queued_once == rounds,
                      "in some rounds the node was queued twice, or not at all");
        CHECK_MESSAGE(rounds_woken_once == rounds,
                      "in some rounds the parked owner was not asked to wake exactly once");
    }

    TEST_CASE("pushes racing with pops are never lost: the last pop of a node sees its last push") {
        // Each pusher has nodes of its own and pushes each many times, writing before every
        // push the number of that push; the owner pops them as they come. A push that races
        // with the pop of its node must queue the node again, so the last pop sees the last
        // number.
        constexpr int pushers = 4;
        constexpr int nodes_each = 4;
        constexpr int pushes_each = 2000;
        struct Counted : ex::ReadyNode {
            std::atomic<int> pushed{0};  // the number of the latest push
            int seen = 0;                // owner only: `pushed` as its latest pop read it
        };
        std::vector<Counted> nodes(pushers * nodes_each);
        ex::ReadyQueue<> queue;
        std::atomic<int> done{0};
        std::vector<std::thread> threads;
        for (int p = 0; p < pushers; ++p) {
            threads.emplace_back([&, p] {
                for (int i = 1; i <= pushes_each; ++i) {
                    for (int n = 0; n < nodes_each; ++n) {
                        Counted& node = nodes[p * nodes_each + n];
                        node.pushed.store(i, std::memory_order_relaxed);  // the queue orders it
                        queue.push(&node);
                    }
                    if (i % 64 == 0) std::this_thread::yield();  // let the owner catch up
                }
                done.fetch_add(1);
            });
        }
        const bool finished = testing::eventually([&] {
            // Pop what is there, and stop once every pusher has finished and nothing is left.
            const bool all_pushed = done.load() == pushers;
            int popped = 0;
            while (ex::ReadyNode* node = queue.pop()) {
                Counted* counted = static_cast<Counted*>(node);
                counted->seen = counted->pushed.load(std::memory_order_relaxed);
                if (++popped == 10'000) return false;  // come back for more
            }
            return all_pushed;
        });
        for (std::thread& thread : threads) thread.join();
        REQUIRE_MESSAGE(finished, "the pushers did not finish within the test's patience");
        int lost = 0;
        for (const Counted& node : nodes) {
            if (node.seen != pushes_each || node.queued()) ++lost;
        }
        CHECK_MESSAGE(lost == 0, lost << " node(s) were last popped before their last push");
    }

    TEST_CASE(
        "a parked owner is woken for every push it would miss, and never sleeps through one") {
        // The owner runs the loop of an executor: pop everything, then park, sleeping until a
        // push asks for a wake. When it wakes for no wake asked (the pushers are done, a
        // backstop), a node it can pop then is a push that found it parked and did not wake it.
        constexpr int pushers = 3;
        constexpr int nodes_each = 3000;
        std::vector<Item> nodes(pushers * nodes_each);
        for (std::size_t i = 0; i < nodes.size(); ++i) nodes[i].id = static_cast<int>(i);

        std::mutex mutex;
        std::condition_variable changed;
        int wakes_asked = 0;  // under mutex: pushes that returned true, not yet seen by the owner
        bool pushers_done = false;  // under mutex

        std::vector<int> pops(nodes.size(), 0);
        int lost_wakes = 0;
        bool gave_up = false;

        std::latch queue_made(1);
        std::optional<ex::ReadyQueue<>> queue;  // owned by the owner's thread, made before it runs
        std::thread owner([&] {
            queue_made.wait();  // counted down at once, below
            ex::ReadyQueue<>& own = *queue;
            for (;;) {
                while (ex::ReadyNode* node = own.pop())
                    ++pops[static_cast<std::size_t>(id_of(node))];
                if (!own.prepare_park()) continue;
                std::unique_lock lock(mutex);
                const bool woken = changed.wait_for(
                    lock, testing::patience(), [&] { return wakes_asked > 0 || pushers_done; });
                const bool asked = wakes_asked > 0;
                wakes_asked = 0;
                const bool finished = pushers_done;
                lock.unlock();
                own.end_park();
                if (!woken) {
                    gave_up = true;
                    break;
                }
                if (!asked) {
                    if (ex::ReadyNode* node = own.pop()) {  // it slept through this push
                        ++lost_wakes;
                        ++pops[static_cast<std::size_t>(id_of(node))];
                    }
                }
                if (finished) {
                    while (ex::ReadyNode* node = own.pop())
                        ++pops[static_cast<std::size_t>(id_of(node))];
                    break;
                }
            }
        });
        queue.emplace(owner.get_id());
        queue_made.count_down();

        std::vector<std::thread> threads;
        for (int p = 0; p < pushers; ++p) {
            threads.emplace_back([&, p] {
                for (int n = 0; n < nodes_each; ++n) {
                    if (queue->push(&nodes[static_cast<std::size_t>(p * nodes_each + n)])) {
                        std::lock_guard lock(mutex);
                        ++wakes_asked;
                        changed.notify_one();
                    }
                    if (n % 16 == 0) std::this_thread::yield();  // gaps, for the owner to park in
                }
            });
        }
        for (std::thread& thread : threads) thread.join();
        {
            std::lock_guard lock(mutex);
            pushers_done = true;
        }
        changed.notify_one();
        owner.join();

        REQUIRE_FALSE_MESSAGE(gave_up, "the owner slept for the whole of the test's patience");
        CHECK_MESSAGE(lost_wakes == 0, "a push found the owner parked and did not ask to wake it");
        int missing = 0, twice = 0;
        for (int count : pops) {
            if (count == 0) ++missing;
            if (count > 1) ++twice;
        }
        CHECK_MESSAGE(missing == 0, missing << " node(s) pushed once were never popped");
        CHECK_MESSAGE(twice == 0, twice << " node(s) pushed once were popped more than once");
    }
}
