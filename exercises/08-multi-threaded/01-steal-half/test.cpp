// Tests of exercise 08-01, the specification of ex::StealQueue: the owner pops its tasks in the
// order it pushed them; a full queue sends its oldest half and the new task to the overflow
// queue in one batch; a thief takes half of what it finds, rounded up, from the front, and runs
// the last of them at once; the indices wrap without losing a task; and with an owner and
// thieves racing, every task is taken exactly once. No verdict depends on how fast the machine
// is: the tests where threads race check what must hold in every interleaving, and every wait
// of the tests is bounded and fails with a message.
//
// The tests with a random pattern print their seed when they fail; to run them again with the
// same pattern, set it in the environment: STEAL_QUEUE_SEED=1234 ./solution-test-08-01 (the
// threads' interleaving still differs from run to run).
#include <doctest/doctest.h>

#include <steal_queue.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "testing/eventually.hpp"
#include "testing/printing.hpp"

namespace {

/// What the tests queue: a task reduced to its number.
struct Item {
    std::uint32_t id = 0;
};

template <std::size_t Capacity = 256, class Index = std::uint32_t>
using Queue = ex::StealQueue<Item, Capacity, Index>;
using Injector = ex::Injector<Item>;
using Ids = std::vector<long>;

// The interface.
static_assert(std::is_same_v<decltype(std::declval<Queue<>&>().pop()), Item*>);
static_assert(
    std::is_same_v<decltype(std::declval<Queue<>&>().steal_into(std::declval<Queue<>&>())), Item*>);
static_assert(
    std::is_same_v<decltype(std::declval<Queue<>&>().push_back(nullptr, std::declval<Injector&>())),
                   void>);
static_assert(!std::is_copy_constructible_v<Queue<>>);

#if defined(__SANITIZE_THREAD__)
constexpr std::size_t sanitizer_slowdown = 5;  // ThreadSanitizer runs the races 5-40x slower
#elif defined(__SANITIZE_ADDRESS__)
constexpr std::size_t sanitizer_slowdown = 4;
#else
constexpr std::size_t sanitizer_slowdown = 1;
#endif

/// `n` items numbered 0 to n - 1, in a vector that is never resized (their addresses stay).
std::vector<Item> numbered(std::size_t n) {
    std::vector<Item> items(n);
    for (std::size_t i = 0; i < n; ++i) items[i].id = static_cast<std::uint32_t>(i);
    return items;
}

/// The number of an item, or -1 for nullptr: doctest prints a failed CHECK(id_of(...) == 2).
long id_of(const Item* item) { return item == nullptr ? -1 : static_cast<long>(item->id); }

/// The numbers from `first` up to, not including, `end`.
Ids range(long first, long end) {
    Ids ids;
    for (long id = first; id < end; ++id) ids.push_back(id);
    return ids;
}

/// Pops until nullptr (not included), at most `limit` times, so that a broken queue that never
/// says "empty" cannot hang the test.
template <class Q>
Ids drain(Q& queue, std::size_t limit = 100'000) {
    Ids ids;
    for (std::size_t i = 0; i < limit; ++i) {
        Item* item = queue.pop();
        if (item == nullptr) break;
        ids.push_back(id_of(item));
    }
    return ids;
}

/// Pushes items[first] to items[end - 1], in that order.
template <class Q>
void push_range(Q& queue, std::vector<Item>& items, std::size_t first, std::size_t end,
                Injector& overflow) {
    for (std::size_t i = first; i < end; ++i) queue.push_back(&items[i], overflow);
}

/// The seed of the random patterns: STEAL_QUEUE_SEED if set, otherwise a new one each run.
std::uint64_t seed() {
    static const std::uint64_t value = [] {
        if (const char* text = std::getenv("STEAL_QUEUE_SEED")) {
            return static_cast<std::uint64_t>(std::strtoull(text, nullptr, 10));
        }
        std::random_device device;
        return (std::uint64_t{device()} << 32) | device();
    }();
    return value;
}

std::string seed_message() {
    return "seed " + std::to_string(seed()) + " (STEAL_QUEUE_SEED=" + std::to_string(seed()) +
           " repeats this pattern)";
}

}  // namespace

TEST_SUITE("steal queue: the owner") {
    TEST_CASE("the owner pops its tasks in the order it pushed them, then nothing") {
        Queue<> queue;
        Injector overflow;
        std::vector<Item> items = numbered(10);
        CHECK(queue.pop() == nullptr);
        push_range(queue, items, 0, 10, overflow);
        CHECK(drain(queue) == range(0, 10));
        CHECK(queue.pop() == nullptr);
        CHECK(overflow.len() == 0);
    }

    TEST_CASE("len counts the tasks in the queue and is_empty says when there are none") {
        Queue<> queue;
        Injector overflow;
        std::vector<Item> items = numbered(3);
        CHECK(queue.is_empty());
        CHECK(queue.len() == 0);
        push_range(queue, items, 0, 3, overflow);
        CHECK(queue.len() == 3);
        CHECK_FALSE(queue.is_empty());
        CHECK(id_of(queue.pop()) == 0);
        CHECK(queue.len() == 2);
        drain(queue);
        CHECK(queue.is_empty());
    }

    TEST_CASE("a queue holds its whole capacity without overflowing") {
        Queue<> queue;
        Injector overflow;
        std::vector<Item> items = numbered(256);
        push_range(queue, items, 0, 256, overflow);
        CHECK(queue.len() == 256);
        CHECK(overflow.len() == 0);
        CHECK(overflow.batches() == 0);
        CHECK(drain(queue) == range(0, 256));
    }

    TEST_CASE("a full queue moves its oldest half and the new task to the overflow, in one batch") {
        Queue<> queue;
        Injector overflow;
        std::vector<Item> items = numbered(257);
        push_range(queue, items, 0, 257, overflow);
        CHECK(overflow.batches() == 1);
        CHECK(overflow.len() == 129);
        CHECK(queue.len() == 128);
        Ids moved = drain(overflow, 1000);
        Ids expected = range(0, 128);
        expected.push_back(256);
        CHECK(moved == expected);
        CHECK(drain(queue) == range(128, 256));
    }

    TEST_CASE("a queue that overflowed goes on: it fills again and overflows again") {
        Queue<4> queue;
        Injector overflow;
        std::vector<Item> items = numbered(8);
        push_range(queue, items, 0, 5, overflow);  // 0 1 2 3, then 4: 0 1 and 4 move out
        CHECK(overflow.batches() == 1);
        push_range(queue, items, 5, 7, overflow);  // 2 3 5 6: full again
        CHECK(overflow.batches() == 1);
        queue.push_back(&items[7], overflow);  // 2 3 and 7 move out
        CHECK(overflow.batches() == 2);
        CHECK(drain(overflow, 100) == Ids{0, 1, 4, 2, 3, 7});
        CHECK(drain(queue) == Ids{5, 6});
    }

    TEST_CASE("the owner keeps its order when the indices wrap, after more than 2^16 pushes") {
        // 16-bit indices wrap at 65,536: three times round, in bursts of every length.
        Queue<256, std::uint16_t> queue;
        Injector overflow;
        std::vector<Item> items = numbered(256);
        long pushed = 0;
        bool in_order = true;
        for (std::size_t burst = 1; pushed < 3 * 65'536 && in_order; burst = burst % 256 + 1) {
            push_range(queue, items, 0, burst, overflow);
            pushed += static_cast<long>(burst);
            in_order = drain(queue, 300) == range(0, static_cast<long>(burst));
            CHECK_MESSAGE(in_order, "a burst of ", burst, " after ", pushed - burst, " pushes");
        }
        CHECK(overflow.len() == 0);
    }
}

TEST_SUITE("steal queue: stealing") {
    TEST_CASE("a thief takes half of the tasks, rounded up, the oldest, and runs the last") {
        for (const long n : {1, 2, 3, 4, 5, 255, 256}) {
            CAPTURE(n);
            Queue<> victim, thief;
            Injector overflow;
            std::vector<Item> items = numbered(static_cast<std::size_t>(n));
            push_range(victim, items, 0, items.size(), overflow);
            const long taken = n - n / 2;
            Item* run_now = victim.steal_into(thief);
            CHECK(id_of(run_now) == taken - 1);
            CHECK(thief.len() == static_cast<std::size_t>(taken - 1));
            CHECK(victim.len() == static_cast<std::size_t>(n / 2));
            CHECK(drain(thief) == range(0, taken - 1));
            CHECK(drain(victim) == range(taken, n));
            CHECK(overflow.len() == 0);
        }
    }

    TEST_CASE("stealing from an empty queue gives nothing and changes nothing") {
        Queue<> victim, thief;
        Injector overflow;
        std::vector<Item> items = numbered(3);
        CHECK(victim.steal_into(thief) == nullptr);
        CHECK(thief.is_empty());
        push_range(victim, items, 0, 3, overflow);
        drain(victim);  // empty again, its indices no longer at 0
        CHECK(victim.steal_into(thief) == nullptr);
        CHECK(thief.is_empty());
        CHECK(victim.is_empty());
    }

    TEST_CASE("stealing again and again halves what is left, down to the last task") {
        Queue<> victim, thief;
        Injector overflow;
        std::vector<Item> items = numbered(256);
        push_range(victim, items, 0, 256, overflow);
        std::vector<std::size_t> sizes;
        long next = 0;
        for (int i = 0; i < 12; ++i) {
            Item* run_now = victim.steal_into(thief);
            if (run_now == nullptr) break;
            Ids batch = drain(thief);
            batch.push_back(id_of(run_now));
            sizes.push_back(batch.size());
            CHECK(batch == range(next, next + static_cast<long>(batch.size())));
            next += static_cast<long>(batch.size());
        }
        CHECK(sizes == std::vector<std::size_t>{128, 64, 32, 16, 8, 4, 2, 1, 1});
        CHECK(victim.is_empty());
    }

    TEST_CASE("a thief whose own queue is more than half full steals nothing") {
        Queue<8> victim, thief;
        Injector overflow;
        std::vector<Item> items = numbered(20);
        push_range(victim, items, 0, 4, overflow);
        push_range(thief, items, 10, 15, overflow);  // 5 of 8: more than half
        CHECK(victim.steal_into(thief) == nullptr);
        CHECK(victim.len() == 4);
        CHECK(thief.len() == 5);
        CHECK(id_of(thief.pop()) == 10);  // 4 of 8: room for the 2 it takes
        CHECK(id_of(victim.steal_into(thief)) == 1);
        CHECK(drain(thief) == Ids{11, 12, 13, 14, 0});
        CHECK(drain(victim) == Ids{2, 3});
        CHECK(overflow.len() == 0);
    }

    TEST_CASE("stolen tasks can be popped by the thief, and stolen again from it") {
        Queue<> first, second, third;
        Injector overflow;
        std::vector<Item> items = numbered(8);
        push_range(first, items, 0, 8, overflow);
        CHECK(id_of(first.steal_into(second)) == 3);  // second holds 0 1 2
        CHECK(id_of(second.steal_into(third)) == 1);  // third holds 0, second 2
        CHECK(drain(third) == Ids{0});
        CHECK(drain(second) == Ids{2});
        CHECK(drain(first) == Ids{4, 5, 6, 7});
    }

    TEST_CASE("a steal across the wrap of the indices takes the right tasks") {
        // 16-bit indices: both queues are brought to 2 slots before the wrap.
        Queue<8, std::uint16_t> victim, thief;
        Injector overflow;
        std::vector<Item> items = numbered(8);
        for (int i = 0; i < 65'534; ++i) {
            victim.push_back(&items[0], overflow);
            thief.push_back(&items[0], overflow);
            victim.pop();
            thief.pop();
        }
        push_range(victim, items, 0, 8, overflow);  // indices 65534 .. 65541: across the wrap
        CHECK(victim.len() == 8);
        CHECK(id_of(victim.steal_into(thief)) == 3);
        CHECK(thief.len() == 3);
        CHECK(victim.len() == 4);
        CHECK(id_of(victim.steal_into(thief)) == 5);  // 3 of 8 in the thief: room
        CHECK(drain(thief) == Ids{0, 1, 2, 4});
        CHECK(drain(victim) == Ids{6, 7});
        CHECK(overflow.len() == 0);
    }
}

namespace {

/// Runs `operations` random pushes, pops and steals on three queues and checks each result
/// against a model made of std::deques, which does what the specification says. Returns the
/// first difference ("" if none) and, in `fewest_pushes`, the least any queue's tail advanced.
template <std::size_t Capacity, class Index>
std::string compare_with_model(std::uint64_t seed, std::size_t operations,
                               std::size_t& fewest_pushes) {
    constexpr std::size_t queues = 3;
    std::array<Queue<Capacity, Index>, queues> real;
    std::array<std::deque<Item*>, queues> model;
    std::array<std::size_t, queues> advanced{};  // indices each tail has moved
    Injector overflow;
    std::deque<Item*> model_overflow;
    std::size_t model_batches = 0;
    std::vector<Item> items = numbered(operations);
    std::size_t next = 0;
    std::mt19937_64 rng(seed);

    for (std::size_t op = 0; op < operations; ++op) {
        const std::size_t q = rng() % queues;
        const std::uint64_t kind = rng() % 20;
        auto where = [&] {  // for a failure message
            return "operation " + std::to_string(op) + " on queue " + std::to_string(q) + ": ";
        };
        if (kind < 9) {  // push
            Item* item = &items[next++];
            real[q].push_back(item, overflow);
            if (model[q].size() < Capacity) {
                model[q].push_back(item);
                ++advanced[q];
            } else {
                for (std::size_t i = 0; i < Capacity / 2; ++i) {
                    model_overflow.push_back(model[q].front());
                    model[q].pop_front();
                }
                model_overflow.push_back(item);
                ++model_batches;
            }
        } else if (kind < 15) {  // pop
            Item* expected = nullptr;
            if (!model[q].empty()) {
                expected = model[q].front();
                model[q].pop_front();
            }
            Item* got = real[q].pop();
            if (got != expected) {
                return where() + "pop gave " + std::to_string(id_of(got)) + ", expected " +
                       std::to_string(id_of(expected));
            }
        } else {  // the owner of `thief` steals from q
            const std::size_t thief = (q + 1 + rng() % (queues - 1)) % queues;
            Item* expected = nullptr;
            const std::size_t n = model[q].size();
            if (model[thief].size() <= Capacity / 2 && n > 0) {
                const std::size_t taken = n - n / 2;
                for (std::size_t i = 0; i < taken; ++i) {
                    Item* item = model[q].front();
                    model[q].pop_front();
                    if (i + 1 < taken) {
                        model[thief].push_back(item);
                    } else {
                        expected = item;
                    }
                }
                advanced[thief] += taken - 1;
            }
            Item* got = real[q].steal_into(real[thief]);
            if (got != expected) {
                return where() + "a steal into queue " + std::to_string(thief) + " gave " +
                       std::to_string(id_of(got)) + ", expected " +
                       std::to_string(id_of(expected)) + " (the queue held " + std::to_string(n) +
                       ")";
            }
        }
        for (std::size_t i = 0; i < queues; ++i) {  // every queue after a steal, else q's
            if ((kind < 15 && i != q) || real[i].len() == model[i].size()) continue;
            return where() + "afterwards queue " + std::to_string(i) + " has len " +
                   std::to_string(real[i].len()) + ", expected " + std::to_string(model[i].size());
        }
        if (kind < 9 &&
            (overflow.batches() != model_batches || overflow.len() != model_overflow.size())) {
            return where() + "the overflow holds " + std::to_string(overflow.len()) + " tasks in " +
                   std::to_string(overflow.batches()) + " batches, expected " +
                   std::to_string(model_overflow.size()) + " in " + std::to_string(model_batches);
        }
    }
    for (Item* expected : model_overflow) {
        Item* got = overflow.pop();
        if (got != expected) {
            return "at the end the overflow gave " + std::to_string(id_of(got)) + ", expected " +
                   std::to_string(id_of(expected));
        }
    }
    fewest_pushes = *std::min_element(advanced.begin(), advanced.end());
    return "";
}

}  // namespace

TEST_SUITE("steal queue: against a model") {
    TEST_CASE("random pushes, pops and steals give what a model of the specification gives") {
        INFO(seed_message());
        std::size_t fewest = 0;
        const std::string large = compare_with_model<256, std::uint32_t>(seed(), 100'000, fewest);
        CHECK_MESSAGE(large == "", "256 slots: ", large);
        const std::string small = compare_with_model<8, std::uint32_t>(seed(), 100'000, fewest);
        CHECK_MESSAGE(small == "", "8 slots: ", small);
    }

    TEST_CASE("the same, with 16-bit indices that wrap in every queue") {
        INFO(seed_message());
        std::size_t fewest = 0;
        const std::string small = compare_with_model<16, std::uint16_t>(seed(), 350'000, fewest);
        CHECK_MESSAGE(small == "", "16 slots: ", small);
        CHECK_MESSAGE(fewest > 65'536, "the indices of some queue did not wrap");
        const std::string large =
            compare_with_model<256, std::uint16_t>(seed() + 1, 350'000, fewest);
        CHECK_MESSAGE(large == "", "256 slots: ", large);
        CHECK_MESSAGE(fewest > 65'536, "the indices of some queue did not wrap");
    }
}

namespace {

/// What the threads of a test found wrong: how many problems, and the first one in words.
class Problems {
public:
    void report(std::string what) {
        std::lock_guard lock(mutex_);
        if (count_++ == 0) first_ = std::move(what);
        // relaxed: only tells the threads to stop; the counts are read under the mutex.
        any_.store(true, std::memory_order_relaxed);
    }
    /// Without the mutex: has any thread reported a problem yet?
    bool any() const { return any_.load(std::memory_order_relaxed); }
    std::size_t count() const {
        std::lock_guard lock(mutex_);
        return count_;
    }
    std::string first() const {
        std::lock_guard lock(mutex_);
        return first_;
    }

private:
    mutable std::mutex mutex_;
    std::size_t count_ = 0;
    std::string first_;
    std::atomic<bool> any_{false};
};

/// One count per item: how many times some thread took it (popped it, or got it from a steal
/// or from the overflow queue). Any thread.
class Takes {
public:
    explicit Takes(const std::vector<Item>& items)
        : items_(items), counts_(std::make_unique<std::atomic<std::uint32_t>[]>(items.size())) {}

    /// Count `item`; false if it is not one of the items (a pointer the queue made up).
    bool take(const Item* item) {
        const Item* begin = items_.data();
        const Item* end = begin + items_.size();
        if (item == nullptr || std::less<>()(item, begin) || !std::less<>()(item, end)) {
            return false;
        }
        // relaxed: a count, read after the threads are joined.
        counts_[static_cast<std::size_t>(item - begin)].fetch_add(1, std::memory_order_relaxed);
        taken_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    std::size_t taken() const { return taken_.load(std::memory_order_relaxed); }

    /// "" if every item was taken exactly once; otherwise how many were not, and which first.
    std::string verdict() const {
        std::size_t never = 0, more = 0;
        long first_never = -1, first_more = -1;
        for (std::size_t i = 0; i < items_.size(); ++i) {
            const std::uint32_t count = counts_[i].load(std::memory_order_relaxed);
            if (count == 0 && never++ == 0) first_never = static_cast<long>(i);
            if (count > 1 && more++ == 0) first_more = static_cast<long>(i);
        }
        if (never == 0 && more == 0) return "";
        return std::to_string(never) +
               " task(s) never taken (the first: " + std::to_string(first_never) + "), " +
               std::to_string(more) +
               " taken more than once (the first: " + std::to_string(first_more) + ")";
    }

private:
    const std::vector<Item>& items_;
    std::unique_ptr<std::atomic<std::uint32_t>[]> counts_;
    std::atomic<std::size_t> taken_{0};
};

/// What owner_and_thieves runs.
struct Race {
    std::size_t tasks;   // the owner pushes them all
    int thieves;         // threads that steal from the owner
    bool owner_pops;     // after each burst; if not, the queue is full nearly all the time
    std::uint64_t seed;  // of the owner's bursts
};

/// One owner pushes its tasks into its queue in random bursts (some larger than the queue, so
/// that it overflows) and may pop some after each burst; thieves steal from it into queues of
/// their own and pop what they stole. Every steal is checked as it
/// happens: at most half a queue, tasks in push order, and the owner's pops in push order too. At
/// the end, every task must have been taken exactly once. Returns whether all held.
template <std::size_t Capacity>
bool owner_and_thieves(const Race& race) {
    const std::size_t total = race.tasks;
    const int thieves = race.thieves;
    std::vector<Item> items = numbered(total);
    Takes takes(items);
    Problems problems;
    Queue<Capacity> queue;  // the owner's
    Injector overflow;
    std::atomic<bool> done{false};  // the owner has pushed everything and its queue is empty
    std::vector<std::unique_ptr<Queue<Capacity>>> own;
    for (int t = 0; t < thieves; ++t) own.push_back(std::make_unique<Queue<Capacity>>());

    std::vector<std::thread> threads;
    for (int t = 0; t < thieves; ++t) {
        threads.emplace_back([&, t] {
            Queue<Capacity>& mine = *own[static_cast<std::size_t>(t)];
            long last_stolen = -1;
            // A queue that keeps handing out tasks wrongly could keep a thief here for ever:
            // it stops at the first problem any thread reports.
            while (!problems.any()) {
                // Read before the steal: once the owner is done its queue is empty for good, so
                // a steal that finds nothing after that means there is nothing left.
                const bool finished = done.load(std::memory_order_acquire);
                Item* run_now = queue.steal_into(mine);
                if (run_now == nullptr) {
                    if (finished) break;
                    continue;
                }
                // Only this thread uses `mine`: it holds exactly the rest of this steal.
                const std::size_t rest = mine.len();
                if (rest + 1 > Capacity / 2) {
                    problems.report("a steal took " + std::to_string(rest + 1) +
                                    " tasks from a queue of " + std::to_string(Capacity));
                }
                Ids batch;
                for (std::size_t i = 0; i < rest && i <= Capacity; ++i) {
                    Item* item = mine.pop();
                    if (item == nullptr || !takes.take(item)) {
                        problems.report("the thief's queue gave back something it was not given");
                        break;
                    }
                    batch.push_back(id_of(item));
                }
                if (mine.pop() != nullptr) problems.report("the thief's queue held more than len");
                if (!takes.take(run_now)) problems.report("a steal returned a foreign pointer");
                batch.push_back(id_of(run_now));
                // The owner pushed in increasing order and a claim is a run of slots from the
                // front, so a batch increases, and each steal comes after the last.
                bool increasing = batch.front() > last_stolen;
                for (std::size_t i = 1; i < batch.size(); ++i) {
                    increasing = increasing && batch[i] > batch[i - 1];
                }
                if (!increasing) {
                    std::string text;
                    for (long id : batch) text += " " + std::to_string(id);
                    problems.report("a stolen batch out of order (after " +
                                    std::to_string(last_stolen) + "):" + text +
                                    " (a slot read after the owner wrote it again?)");
                }
                last_stolen = batch.back();
            }
        });
    }

    // The owner, on this thread.
    std::mt19937_64 rng(race.seed);
    std::size_t next = 0;
    long last_popped = -1;
    auto owner_takes = [&](Item* item) {
        if (!takes.take(item)) problems.report("the owner popped a foreign pointer");
        if (id_of(item) <= last_popped) {
            problems.report("the owner popped " + std::to_string(id_of(item)) + " after " +
                            std::to_string(last_popped));
        }
        last_popped = id_of(item);
    };
    while (next < total) {
        const std::size_t burst = 1 + rng() % (Capacity + Capacity / 2);
        for (std::size_t i = 0; i < burst && next < total; ++i) {
            queue.push_back(&items[next++], overflow);
        }
        const std::size_t pops = race.owner_pops ? rng() % (burst + 1) : 0;
        for (std::size_t i = 0; i < pops; ++i) {
            Item* item = queue.pop();
            if (item == nullptr) break;
            owner_takes(item);
        }
    }
    for (std::size_t i = 0;; ++i) {
        if (i > Capacity) {
            problems.report("the owner's queue gave more tasks than it can hold");
            break;
        }
        Item* item = queue.pop();
        if (item == nullptr) break;
        owner_takes(item);
    }
    done.store(true, std::memory_order_release);
    for (std::thread& thread : threads) thread.join();
    for (std::size_t i = 0; i <= total; ++i) {
        Item* item = overflow.pop();
        if (item == nullptr) break;
        if (!takes.take(item)) problems.report("the overflow queue held a foreign pointer");
    }

    CHECK_MESSAGE(problems.count() == 0, problems.count(),
                  " problem(s); the first: ", problems.first());
    const std::string verdict = takes.verdict();
    CHECK_MESSAGE(verdict == "", verdict);
    return problems.count() == 0 && verdict.empty();
}

/// `workers` threads, each the owner of a queue and of total / workers tasks, push their tasks
/// in random bursts and pop them; a worker whose queue is empty steals from another, chosen at
/// random, and takes from the shared overflow queue. They stop when every task has been taken.
template <std::size_t Capacity>
void workers_steal_from_each_other(std::size_t total, int workers, std::uint64_t seed) {
    std::vector<Item> items = numbered(total);
    Takes takes(items);
    Problems problems;
    Injector overflow;
    std::vector<std::unique_ptr<Queue<Capacity>>> queues;
    for (int w = 0; w < workers; ++w) queues.push_back(std::make_unique<Queue<Capacity>>());
    std::atomic<bool> give_up{false};
    const auto deadline = std::chrono::steady_clock::now() + testing::patience();

    std::vector<std::thread> threads;
    for (int w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            std::mt19937_64 rng(seed + static_cast<std::uint64_t>(w));
            Queue<Capacity>& mine = *queues[static_cast<std::size_t>(w)];
            const std::size_t share = total / static_cast<std::size_t>(workers);
            std::size_t next = share * static_cast<std::size_t>(w);
            const std::size_t end = w + 1 == workers ? total : next + share;
            auto take = [&](Item* item) {
                if (!takes.take(item)) problems.report("a foreign pointer came out of a queue");
            };
            std::size_t idle = 0;
            while (takes.taken() < total && !give_up.load(std::memory_order_relaxed)) {
                if (next < end) {
                    const std::size_t burst = 1 + rng() % Capacity;
                    for (std::size_t i = 0; i < burst && next < end; ++i) {
                        mine.push_back(&items[next++], overflow);
                    }
                    const std::size_t pops = rng() % (burst + 1);
                    for (std::size_t i = 0; i < pops; ++i) {
                        Item* item = mine.pop();
                        if (item == nullptr) break;
                        take(item);
                    }
                    continue;
                }
                if (Item* item = mine.pop()) {
                    take(item);
                    continue;
                }
                const std::size_t other =
                    (static_cast<std::size_t>(w) + 1 + rng() % (workers - 1)) %
                    static_cast<std::size_t>(workers);
                if (Item* item = queues[other]->steal_into(mine)) {
                    take(item);
                    continue;
                }
                if (Item* item = overflow.pop()) {
                    take(item);
                    continue;
                }
                // Nothing found: the others hold the last tasks. A bounded wait, far beyond
                // what a correct queue needs.
                if (++idle % 1024 == 0 && std::chrono::steady_clock::now() > deadline) {
                    problems.report("gave up waiting: " + std::to_string(takes.taken()) + " of " +
                                    std::to_string(total) + " tasks taken, none left to find");
                    give_up.store(true, std::memory_order_relaxed);
                }
            }
        });
    }
    for (std::thread& thread : threads) thread.join();

    CHECK_MESSAGE(problems.count() == 0, problems.count(),
                  " problem(s); the first: ", problems.first());
    const std::string verdict = takes.verdict();
    CHECK_MESSAGE(verdict == "", verdict);
}

}  // namespace

TEST_SUITE("steal queue: threads racing") {
    TEST_CASE("an owner and three thieves take every task exactly once") {
        INFO(seed_message());
        CHECK(owner_and_thieves<256>({1'000'000 / sanitizer_slowdown, 3, true, seed()}));
    }

    TEST_CASE("a thief copies its tasks before it gives their slots back to the owner") {
        // The owner only pushes, into a queue of 8 slots that is full nearly all the time: the
        // moment a thief releases its claim, the owner's next push writes into the first slot
        // it claimed. A thief that released its claim before copying, or that claimed while
        // another thief was copying, reads slots the owner may be writing again: its batch
        // comes out of order, or tasks are lost and others taken twice. Under ThreadSanitizer
        // such a read is reported as a data race in every run; in a plain build it shows only
        // when a thief is delayed at the wrong moment (preempted, say), which these rounds make
        // likely, not certain.
        INFO(seed_message());
        // Rounds with new threads, up to the first that finds something wrong.
        for (std::uint64_t round = 0; round < 8; ++round) {
            CAPTURE(round);
            if (!owner_and_thieves<8>({400'000 / sanitizer_slowdown, 2, false, seed() + round})) {
                break;
            }
        }
    }

    TEST_CASE("workers that push, pop and steal from each other take every task exactly once") {
        INFO(seed_message());
        workers_steal_from_each_other<256>(1'000'000 / sanitizer_slowdown, 3, seed());
        workers_steal_from_each_other<8>(400'000 / sanitizer_slowdown, 3, seed() + 1);
    }
}
