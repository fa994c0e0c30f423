// Tests of chapter 7's oneshot channel (rt/sync/oneshot.hpp): what a receiver gets and when
// it is woken, what becomes of a value nobody receives and of a waker nobody needs, and, with
// the two ends on two threads, that every value arrives and every value is destroyed once,
// whichever end leaves last and frees the state. That the state itself is freed shows under
// AddressSanitizer, whose leak check sees it (the frame pool is off there).
#include <doctest/doctest.h>

#include <atomic>
#include <latch>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/timeout.hpp"
#include "rt/waker.hpp"
#include "testing/eventually.hpp"
#include "testing/wakers.hpp"

namespace oneshot = rt::sync::oneshot;
using testing::CountingWaker;
using testing::poll_once;

namespace {

/// How many Tracked values were made and destroyed; atomic, for the tests with two threads.
struct Counts {
    std::atomic<int> made{0};
    std::atomic<int> destroyed{0};
};

/// A value that reports its making and its destruction. Moving it hands the value on: the
/// moved-from object counts as nothing, so every value made should be destroyed exactly once.
class Tracked {
public:
    Tracked(Counts& counts, int payload) : counts_(&counts), payload_(payload) { ++counts.made; }
    Tracked(Tracked&& other) noexcept
        : counts_(std::exchange(other.counts_, nullptr)), payload_(other.payload_) {}
    Tracked& operator=(Tracked&&) = delete;
    ~Tracked() {
        if (counts_ != nullptr) ++counts_->destroyed;
    }
    int payload() const { return payload_; }

private:
    Counts* counts_;  // null once moved from
    int payload_;
};

/// Let a channel's end go now: moved into a local that dies at once.
template <class End>
void drop(End& end) {
    End gone(std::move(end));
}

/// A task as an executor's wakers see it: every waker made for it, clones included, carries
/// its address, so will_wake tells its wakers from another task's, as with a real task
/// (testing::CountingWaker gives each clone an address of its own). Counts what is done.
struct FakeTask {
    int clones = 0;
    int wakes = 0;
    int alive = 0;  // wakers for this task that exist now

    rt::Waker waker() {
        ++alive;
        return rt::Waker(rt::RawWaker{this, &vtable});
    }

private:
    static FakeTask& of(const void* data) {
        return *static_cast<FakeTask*>(const_cast<void*>(data));
    }
    static rt::RawWaker clone(const void* data) {
        ++of(data).clones;
        ++of(data).alive;
        return rt::RawWaker{data, &vtable};
    }
    static void wake(const void* data) {
        ++of(data).wakes;
        --of(data).alive;
    }
    static void wake_by_ref(const void* data) { ++of(data).wakes; }
    static void drop(const void* data) { --of(data).alive; }
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};
};

/// Waits for each task's outcome, in order.
rt::Task<std::vector<std::optional<int>>> gather(
    std::vector<rt::JoinHandle<std::optional<int>>> handles) {
    std::vector<std::optional<int>> outcomes;
    for (auto& handle : handles) outcomes.push_back(co_await std::move(handle));
    co_return outcomes;
}

}  // namespace

TEST_SUITE("oneshot") {
    TEST_CASE("a value sent before the first poll is ready at the first poll") {
        auto [sender, receiver] = oneshot::channel<int>();
        CHECK(std::move(sender).send(42));
        rt::Poll<std::optional<int>> polled = poll_once(receiver);
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == std::optional<int>(42));
    }

    TEST_CASE("a send after a pending poll wakes the poll's waker once; the next poll has it") {
        CountingWaker counts;
        const rt::Waker waker = counts.waker();
        auto [sender, receiver] = oneshot::channel<int>();
        CHECK(poll_once(receiver, waker).is_pending());
        CHECK(counts.wakes() == 0);
        CHECK(std::move(sender).send(7));
        CHECK(counts.wakes() == 1);
        rt::Poll<std::optional<int>> polled = poll_once(receiver, waker);
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == std::optional<int>(7));
        CHECK(counts.wakes() == 1);
        CHECK(counts.alive() == 1);  // only the test's own: the stored clone went with the wake
    }

    TEST_CASE("a sender dropped without sending wakes the receiver, which gets std::nullopt") {
        CountingWaker counts;
        const rt::Waker waker = counts.waker();
        auto [sender, receiver] = oneshot::channel<int>();
        CHECK(poll_once(receiver, waker).is_pending());
        drop(sender);
        CHECK(counts.wakes() == 1);
        rt::Poll<std::optional<int>> polled = poll_once(receiver, waker);
        REQUIRE(polled.is_ready());
        CHECK_FALSE(polled.value().has_value());
    }

    TEST_CASE("a send after the receiver is dropped returns false and destroys the value first") {
        Counts counts;
        auto [sender, receiver] = oneshot::channel<Tracked>();
        CHECK_FALSE(sender.is_closed());
        drop(receiver);
        CHECK(sender.is_closed());
        bool sent = true;
        int destroyed_when_send_returned = -1;
        // One statement: the argument lives until its end, so the count read within it, after
        // send returned, shows what send itself destroyed.
        sent = std::move(sender).send(Tracked(counts, 1)),
        destroyed_when_send_returned = counts.destroyed.load();
        CHECK_FALSE(sent);
        CHECK(destroyed_when_send_returned == 1);
        CHECK(counts.made.load() == 1);
        CHECK(counts.destroyed.load() == 1);
        CHECK(sender.is_closed());  // an empty sender: nothing more to send
    }

    TEST_CASE("dropping a waiting receiver releases its stored waker without waking it") {
        CountingWaker counts;
        const rt::Waker waker = counts.waker();
        auto [sender, receiver] = oneshot::channel<int>();
        CHECK(poll_once(receiver, waker).is_pending());
        CHECK(counts.alive() == 2);  // the test's and the stored clone
        drop(receiver);
        CHECK(counts.alive() == 1);
        CHECK(counts.drops() == 1);
        CHECK(counts.wakes() == 0);
        CHECK_FALSE(std::move(sender).send(1));
        CHECK(counts.wakes() == 0);
    }

    TEST_CASE("a poll keeps the stored waker for the same task and replaces it for another") {
        FakeTask first;
        FakeTask second;
        const rt::Waker first_waker = first.waker();
        const rt::Waker second_waker = second.waker();
        auto [sender, receiver] = oneshot::channel<int>();
        CHECK(poll_once(receiver, first_waker).is_pending());
        CHECK(poll_once(receiver, first_waker).is_pending());
        CHECK(first.clones == 1);  // the second poll would wake the same task: kept
        // The receiver moves, and another task polls it: that task is the one waiting now.
        oneshot::Receiver<int> moved = std::move(receiver);
        CHECK(poll_once(moved, second_waker).is_pending());
        CHECK(first.alive == 1);  // the first task's clone was dropped
        CHECK(second.clones == 1);
        CHECK(std::move(sender).send(3));
        CHECK(first.wakes == 0);
        CHECK(second.wakes == 1);
        CHECK(second.alive == 1);  // the stored clone went with the wake
        rt::Poll<std::optional<int>> polled = poll_once(moved, second_waker);
        REQUIRE(polled.is_ready());
        CHECK(polled.value() == std::optional<int>(3));
    }

    TEST_CASE("assigning over either end lets go of the channel it held") {
        auto [old_sender, old_receiver] = oneshot::channel<int>();
        auto [new_sender, new_receiver] = oneshot::channel<int>();
        old_sender = std::move(new_sender);  // the old channel's sender is dropped: closed
        rt::Poll<std::optional<int>> closed = poll_once(old_receiver);
        REQUIRE(closed.is_ready());
        CHECK_FALSE(closed.value().has_value());

        new_receiver = std::move(old_receiver);  // the new channel's receiver is dropped
        CHECK(old_sender.is_closed());
        CHECK_FALSE(std::move(old_sender).send(5));
    }

    TEST_CASE(
        "every value is destroyed once and every waker released, whichever end leaves "
        "first") {
        for (const bool polled_first : {false, true}) {
            for (const bool sends : {false, true}) {
                for (const bool sender_first : {false, true}) {
                    for (const bool received : {false, true}) {
                        if (received && !sender_first) continue;  // nothing left to receive
                        CAPTURE(polled_first);
                        CAPTURE(sends);
                        CAPTURE(sender_first);
                        CAPTURE(received);
                        Counts counts;
                        CountingWaker wakers;
                        {
                            const rt::Waker waker = wakers.waker();
                            auto [sender, receiver] = oneshot::channel<Tracked>();
                            if (polled_first) CHECK(poll_once(receiver, waker).is_pending());
                            if (!sender_first) drop(receiver);
                            if (sends) {
                                CHECK(std::move(sender).send(Tracked(counts, 9)) == sender_first);
                            } else {
                                drop(sender);
                            }
                            if (received) {
                                rt::Poll<std::optional<Tracked>> polled = poll_once(receiver);
                                REQUIRE(polled.is_ready());
                                CHECK(polled.value().has_value() == sends);
                            }
                            if (sender_first) drop(receiver);
                        }
                        CHECK(counts.made.load() == (sends ? 1 : 0));
                        CHECK(counts.destroyed.load() == counts.made.load());
                        CHECK(wakers.alive() == 0);
                        CHECK(wakers.wakes() == (polled_first && sender_first ? 1 : 0));
                    }
                }
            }
        }
    }

    TEST_CASE("a value sent with alignas(64) arrives aligned") {
        struct alignas(64) Wide {
            int payload = 0;
        };
        auto [sender, receiver] = oneshot::channel<Wide>();
        CHECK(std::move(sender).send(Wide{11}));
        rt::Poll<std::optional<Wide>> polled = poll_once(receiver);
        REQUIRE(polled.is_ready());
        REQUIRE(polled.value().has_value());
        CHECK(polled.value()->payload == 11);
    }

    TEST_CASE("values sent from another thread all reach receivers awaiting on an executor") {
        constexpr int channels = 2000;
        std::vector<oneshot::Sender<int>> senders;
        std::vector<rt::JoinHandle<std::optional<int>>> handles;
        rt::Executor executor;
        for (int i = 0; i < channels; ++i) {
            auto [sender, receiver] = oneshot::channel<int>();
            senders.push_back(std::move(sender));
            handles.push_back(executor.spawn(std::move(receiver)));
        }
        // Every tenth sender is dropped instead: its receiver must wake with std::nullopt.
        std::thread sending([&senders] {
            for (int i = 0; i < channels; ++i) {
                if (i % 10 == 9) {
                    drop(senders[i]);
                } else {
                    std::move(senders[i]).send(i);
                }
                if (i % 50 == 0) std::this_thread::yield();  // let the receivers catch up
            }
        });
        // Bounded: a lost wake times out, not hangs.
        auto outcomes =
            executor.block_on(rt::timeout(testing::patience(), gather(std::move(handles))));
        sending.join();
        REQUIRE_MESSAGE(outcomes.has_value(), "a receiver was never woken");
        REQUIRE(outcomes->size() == channels);
        int arrived = 0;
        for (int i = 0; i < channels; ++i) {
            const std::optional<int>& outcome = (*outcomes)[i];
            if (i % 10 == 9) {
                CHECK_FALSE(outcome.has_value());
            } else if (outcome == std::optional<int>(i)) {
                ++arrived;
            }
        }
        CHECK(arrived == channels - channels / 10);
    }

    TEST_CASE("ends leaving on two threads at once destroy each value once and free the state") {
        constexpr int channels = 2000;
        Counts counts;
        CountingWaker wakers;
        std::vector<oneshot::Sender<Tracked>> senders;
        std::vector<oneshot::Receiver<Tracked>> receivers;
        for (int i = 0; i < channels; ++i) {
            auto [sender, receiver] = oneshot::channel<Tracked>();
            senders.push_back(std::move(sender));
            receivers.push_back(std::move(receiver));
        }
        std::atomic<int> delivered{0};
        std::latch start(2);
        std::thread sending([&] {
            start.arrive_and_wait();
            for (int i = 0; i < channels; ++i) {
                if (i % 3 == 0) {
                    drop(senders[i]);
                } else if (std::move(senders[i]).send(Tracked(counts, i))) {
                    delivered.fetch_add(1);
                }
            }
        });
        {
            const rt::Waker waker = wakers.waker();
            start.arrive_and_wait();
            for (int i = 0; i < channels; ++i) {
                // Some receivers leave at once, some after a poll that may store a waker or
                // take the value: the sender may be before, after or at the lock with them.
                if (i % 2 == 0) {
                    rt::Poll<std::optional<Tracked>> polled = poll_once(receivers[i], waker);
                    if (polled.is_ready() && polled.value()) {
                        CHECK(polled.value()->payload() == i);
                    }
                }
                drop(receivers[i]);
            }
        }
        sending.join();
        CHECK(counts.made.load() == channels - (channels + 2) / 3);
        CHECK(counts.destroyed.load() == counts.made.load());
        CHECK(delivered.load() <= counts.made.load());
        CHECK(wakers.alive() == 0);
    }
}
