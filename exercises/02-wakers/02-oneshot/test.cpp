// Tests of exercise 02-02, the specification of the oneshot channel: the value (or "sender
// dropped") reaches the receiver, which is woken through the waker of its latest poll, once,
// and never misses a send that races with its poll. Every test ends on its own, even against
// the starter: futures are polled by hand, and executors run only until idle.
#include <doctest/doctest.h>

#include <oneshot.hpp>

#include <atomic>
#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "rt/executor.hpp"
#include "rt/future.hpp"
#include "testing/wakers.hpp"

namespace oneshot = rt::sync::oneshot;

namespace {

// The interface: channel<T>() makes a pair; the receiver is a future of std::optional<T>.
static_assert(std::same_as<decltype(oneshot::channel<int>()),
                           std::pair<oneshot::Sender<int>, oneshot::Receiver<int>>>);
static_assert(rt::Future<oneshot::Receiver<std::string>>);
static_assert(std::same_as<oneshot::Receiver<int>::Output, std::optional<int>>);

/// A waker whose clones all share one data pointer, as the clones of a task's waker do (each is
/// one more reference to the same task), so that will_wake recognises them. Counts clones.
class TaskLikeWaker {
public:
    rt::Waker waker() {
        refs_.fetch_add(1);
        return rt::Waker(rt::RawWaker{this, &vtable});
    }
    int clones() const { return clones_.load(); }
    int wakes() const { return wakes_.load(); }
    int refs() const { return refs_.load(); }  // wakers that exist now

private:
    static TaskLikeWaker& self(const void* data) {
        return *static_cast<TaskLikeWaker*>(const_cast<void*>(data));
    }
    static rt::RawWaker clone(const void* data) {
        self(data).clones_.fetch_add(1);
        self(data).refs_.fetch_add(1);
        return rt::RawWaker{data, &vtable};
    }
    static void wake(const void* data) {
        self(data).wakes_.fetch_add(1);
        self(data).refs_.fetch_sub(1);
    }
    static void wake_by_ref(const void* data) { self(data).wakes_.fetch_add(1); }
    static void drop(const void* data) { self(data).refs_.fetch_sub(1); }
    static constexpr rt::RawWakerVTable vtable{&clone, &wake, &wake_by_ref, &drop};

    std::atomic<int> clones_{0};
    std::atomic<int> wakes_{0};
    std::atomic<int> refs_{0};
};

/// What a Receive task saw: how often it was polled, and what it received, once ready.
template <class T>
struct Received {
    int polls = 0;
    bool ready = false;
    std::optional<T> output;
};

/// A task for rt::Executor: awaits a receiver and puts what it received in shared state.
template <class T>
class Receive {
public:
    using Output = void;
    Receive(oneshot::Receiver<T> rx, std::shared_ptr<Received<T>> received)
        : rx_(std::move(rx)), received_(std::move(received)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++received_->polls;
        rt::Poll<std::optional<T>> polled = rx_.poll(cx);
        if (polled.is_pending()) return rt::pending;
        received_->ready = true;
        received_->output = std::move(polled).value();
        return rt::ready;
    }

private:
    oneshot::Receiver<T> rx_;
    std::shared_ptr<Received<T>> received_;
};

/// How many times the race tests run; each races one send (or drop) against polls.
constexpr int race_rounds = 500;

/// The other side of a race, on its own thread: started at construction, it runs once go() is
/// called. go() then lets a round-dependent moment pass before returning (a short spin, or a
/// yield of the CPU), so that over the rounds the test's next step lands before, during and
/// after the other side's, on an idle machine as on a loaded one.
class Racer {
public:
    template <class Side>
    explicit Racer(Side side)
        : thread_([this, side = std::move(side)]() mutable {
              ready_.store(true);
              spin_until(go_);
              side();
          }) {
        spin_until(ready_);  // started, and waiting for go
    }
    Racer(const Racer&) = delete;
    Racer& operator=(const Racer&) = delete;
    ~Racer() { join(); }

    void go(int round) {
        go_.store(true);
        if (round % 2 == 1) {
            std::this_thread::yield();  // let the other side go first, even on a busy machine
            return;
        }
        const auto pause = std::chrono::nanoseconds(round % 40 * 100);  // 0 to 3.9 us
        const auto until = std::chrono::steady_clock::now() + pause;
        while (std::chrono::steady_clock::now() < until) {
        }
    }
    /// Wait until the other side is done.
    void join() {
        if (thread_.joinable()) thread_.join();
    }

private:
    /// Spin until `flag`, to see it the moment it is set; yield now and then, in case the
    /// thread that will set it is waiting for this CPU.
    static void spin_until(const std::atomic<bool>& flag) {
        for (int spins = 1; !flag.load(); ++spins) {
            if (spins % (1 << 14) == 0) std::this_thread::yield();
        }
    }

    std::atomic<bool> ready_{false};
    std::atomic<bool> go_{false};
    std::thread thread_;  // last: starts after the flags exist
};

}  // namespace

TEST_SUITE("oneshot") {
    TEST_CASE("a value sent before the first poll is ready at the first poll") {
        auto [tx, rx] = oneshot::channel<int>();
        CHECK(std::move(tx).send(42));
        rt::Poll<std::optional<int>> polled = testing::poll_once(rx);
        REQUIRE_MESSAGE(polled.is_ready(), "the value was sent: the receiver should be ready");
        CHECK(polled.value() == 42);
    }

    TEST_CASE("a receiver polled before the send keeps its waker, and the send wakes it once") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto [tx, rx] = oneshot::channel<std::string>();
        CHECK(testing::poll_once(rx, waker).is_pending());
        CHECK(counter.alive() == 2);  // ours, and the clone the receiver keeps
        CHECK_FALSE(tx.is_closed());
        CHECK(std::move(tx).send("hello"));
        CHECK(counter.wakes() == 1);
        CHECK(counter.alive() == 1);  // the receiver's clone was used up by the wake
        rt::Poll<std::optional<std::string>> polled = testing::poll_once(rx, waker);
        REQUIRE_MESSAGE(polled.is_ready(), "the receiver was woken: it should be ready now");
        CHECK(polled.value() == "hello");
    }

    TEST_CASE("a value that can only be moved is sent from another thread and delivered") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto [tx, rx] = oneshot::channel<std::unique_ptr<int>>();
        CHECK(testing::poll_once(rx, waker).is_pending());
        std::thread sender([tx = std::move(tx)]() mutable {
            CHECK(std::move(tx).send(std::make_unique<int>(7)));
        });
        sender.join();
        CHECK(counter.wakes() == 1);
        rt::Poll<std::optional<std::unique_ptr<int>>> polled = testing::poll_once(rx, waker);
        REQUIRE_MESSAGE(polled.is_ready(), "the receiver was woken: it should be ready now");
        REQUIRE(polled.value().has_value());
        REQUIRE(*polled.value() != nullptr);
        CHECK(**polled.value() == 7);
    }

    TEST_CASE("a receiver polled with waker A and then with waker B wakes only B, and lets A go") {
        testing::CountingWaker a;
        testing::CountingWaker b;
        rt::Waker waker_a = a.waker();
        rt::Waker waker_b = b.waker();
        auto [tx, rx] = oneshot::channel<int>();
        CHECK(testing::poll_once(rx, waker_a).is_pending());
        CHECK(a.alive() == 2);  // ours, and the receiver's clone
        CHECK(testing::poll_once(rx, waker_b).is_pending());
        CHECK(a.alive() == 1);  // the receiver dropped its clone of A
        CHECK(b.alive() == 2);
        CHECK(std::move(tx).send(1));
        CHECK(a.wakes() == 0);
        CHECK(b.wakes() == 1);
    }

    TEST_CASE("a receiver polled again by the same task keeps its waker instead of cloning") {
        TaskLikeWaker task;
        {
            rt::Waker waker = task.waker();
            auto [tx, rx] = oneshot::channel<int>();
            for (int i = 0; i < 3; ++i) CHECK(testing::poll_once(rx, waker).is_pending());
            CHECK(task.clones() == 1);  // will_wake said "same task" at the second and third polls
            CHECK(task.refs() == 2);
            CHECK(std::move(tx).send(3));
            CHECK(task.wakes() == 1);
        }
        CHECK(task.refs() == 0);
    }

    TEST_CASE("a sender dropped without sending wakes the receiver, which is ready with nullopt") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto [tx, rx] = oneshot::channel<int>();
        CHECK(testing::poll_once(rx, waker).is_pending());
        { oneshot::Sender<int> dropped = std::move(tx); }
        CHECK(counter.wakes() == 1);
        rt::Poll<std::optional<int>> polled = testing::poll_once(rx, waker);
        REQUIRE_MESSAGE(polled.is_ready(), "the sender is gone: the receiver should be ready");
        CHECK_FALSE(polled.value().has_value());
    }

    TEST_CASE("a receiver first polled after its sender was dropped is ready with nullopt") {
        auto [tx, rx] = oneshot::channel<int>();
        { oneshot::Sender<int> dropped = std::move(tx); }
        rt::Poll<std::optional<int>> polled = testing::poll_once(rx);
        REQUIRE_MESSAGE(polled.is_ready(), "the sender is gone: the receiver should be ready");
        CHECK_FALSE(polled.value().has_value());
    }

    TEST_CASE("a sender that has sent is used up: destroying it then neither wakes nor closes") {
        testing::CountingWaker counter;
        rt::Waker waker = counter.waker();
        auto [tx, rx] = oneshot::channel<int>();
        CHECK(testing::poll_once(rx, waker).is_pending());
        {
            oneshot::Sender<int> sender = std::move(tx);
            CHECK(std::move(sender).send(5));
        }  // the sender is destroyed here
        CHECK(counter.wakes() == 1);
        rt::Poll<std::optional<int>> polled = testing::poll_once(rx, waker);
        REQUIRE_MESSAGE(polled.is_ready(), "the value was sent: the receiver should be ready");
        CHECK(polled.value() == 5);  // the value, not "sender dropped"
    }

    TEST_CASE("sending after the receiver is gone returns false and destroys the value at once") {
        auto token = std::make_shared<int>(0);
        auto [tx, rx] = oneshot::channel<std::shared_ptr<int>>();
        { oneshot::Receiver<std::shared_ptr<int>> dropped = std::move(rx); }
        CHECK(tx.is_closed());
        CHECK_FALSE(std::move(tx).send(token));
        CHECK(token.use_count() == 1);  // nobody holds the value sent
    }

    TEST_CASE("a value sent and never received is held by the channel until the receiver goes") {
        auto token = std::make_shared<int>(0);
        auto [tx, rx] = oneshot::channel<std::shared_ptr<int>>();
        CHECK(std::move(tx).send(token));
        CHECK(token.use_count() == 2);  // in the channel, waiting for the receiver
        { oneshot::Receiver<std::shared_ptr<int>> dropped = std::move(rx); }
        CHECK(token.use_count() == 1);
    }

    TEST_CASE("a dropped receiver releases the waker it kept, and the sender wakes nobody") {
        testing::CountingWaker counter;
        auto [tx, rx] = oneshot::channel<int>();
        CHECK(testing::poll_once(rx, counter.waker()).is_pending());
        CHECK(counter.alive() == 1);  // the receiver's clone
        { oneshot::Receiver<int> dropped = std::move(rx); }
        CHECK(counter.alive() == 0);
        CHECK(tx.is_closed());
        CHECK_FALSE(std::move(tx).send(1));
        CHECK(counter.wakes() == 0);
    }

    TEST_CASE("a task awaiting a receiver on the executor completes when a thread sends") {
        rt::Executor executor;
        auto received = std::make_shared<Received<std::string>>();
        auto [tx, rx] = oneshot::channel<std::string>();
        executor.spawn(Receive<std::string>(std::move(rx), received));
        executor.run_until_idle();
        CHECK(received->polls == 1);
        std::thread([tx = std::move(tx)]() mutable { std::move(tx).send("from a thread"); }).join();
        const rt::RunStats stats = executor.run_until_idle();
        REQUIRE_MESSAGE(received->ready,
                        "the task awaiting the receiver was not woken by the send");
        CHECK(received->output == "from a thread");
        CHECK(received->polls == 2);  // once to store its waker, once after the wake
        CHECK(stats.completed == 1);
    }

    TEST_CASE("a receiver polled by one task, then moved into another, wakes the one holding it") {
        rt::Executor executor;
        auto [tx, rx] = oneshot::channel<int>();
        // The first task polls the receiver once, then gives it away and completes: the receiver
        // holds the first task's waker now, and that task will never wait for it again.
        auto handed_over = std::make_shared<std::optional<oneshot::Receiver<int>>>();
        struct PollOnceThenHandOver {
            using Output = void;
            oneshot::Receiver<int> rx;
            std::shared_ptr<std::optional<oneshot::Receiver<int>>> out;
            rt::Poll<void> poll(rt::Context& cx) {
                CHECK(rx.poll(cx).is_pending());
                out->emplace(std::move(rx));
                return rt::ready;
            }
        };
        executor.spawn(PollOnceThenHandOver{std::move(rx), handed_over});
        executor.run_until_idle();
        REQUIRE(handed_over->has_value());

        auto received = std::make_shared<Received<int>>();
        executor.spawn(Receive<int>(std::move(**handed_over), received));
        executor.run_until_idle();
        CHECK(received->polls == 1);
        std::thread([tx = std::move(tx)]() mutable { std::move(tx).send(9); }).join();
        executor.run_until_idle();
        REQUIRE_MESSAGE(received->ready,
                        "the send woke the first task's waker instead of the second task's");
        CHECK(received->output == 9);
        CHECK(received->polls == 2);
    }

    TEST_CASE("a send racing with the first poll is never lost") {
        // Over the rounds, the poll comes before the send, after it, or while it runs (on a
        // loaded two-core machine, about half the first polls were pending).
        for (int round = 0; round < race_rounds; ++round) {
            CAPTURE(round);
            testing::CountingWaker counter;
            rt::Waker waker = counter.waker();
            auto [tx, rx] = oneshot::channel<int>();
            Racer sender([tx = std::move(tx), round]() mutable { std::move(tx).send(round); });
            sender.go(round);
            rt::Poll<std::optional<int>> first = testing::poll_once(rx, waker);
            sender.join();
            if (first.is_ready()) {
                REQUIRE(first.value() == round);
                continue;
            }
            // The poll came first, or the two overlapped: either way the send must have woken us.
            REQUIRE_MESSAGE(counter.wakes() == 1,
                            "the receiver answered pending and was never woken");
            rt::Poll<std::optional<int>> second = testing::poll_once(rx, waker);
            REQUIRE(second.is_ready());
            REQUIRE(second.value() == round);
        }
    }

    TEST_CASE("a sender dropped while the receiver is polled is never missed") {
        for (int round = 0; round < race_rounds; ++round) {
            CAPTURE(round);
            testing::CountingWaker counter;
            rt::Waker waker = counter.waker();
            auto [tx, rx] = oneshot::channel<int>();
            Racer dropper(
                [tx = std::move(tx)]() mutable { oneshot::Sender<int> dropped = std::move(tx); });
            dropper.go(round);
            rt::Poll<std::optional<int>> first = testing::poll_once(rx, waker);
            dropper.join();
            if (first.is_pending()) {
                REQUIRE_MESSAGE(counter.wakes() == 1,
                                "the receiver answered pending and was never woken");
                first = testing::poll_once(rx, waker);
            }
            REQUIRE(first.is_ready());
            REQUIRE_FALSE(first.value().has_value());
        }
    }

    TEST_CASE("a send racing with a change of waker wakes the waker of the latest pending poll") {
        for (int round = 0; round < race_rounds; ++round) {
            CAPTURE(round);
            testing::CountingWaker a;
            testing::CountingWaker b;
            rt::Waker waker_a = a.waker();
            rt::Waker waker_b = b.waker();
            auto [tx, rx] = oneshot::channel<int>();
            Racer sender([tx = std::move(tx)]() mutable { std::move(tx).send(1); });
            sender.go(round);
            const bool pending_a = testing::poll_once(rx, waker_a).is_pending();
            const bool pending_b = pending_a && testing::poll_once(rx, waker_b).is_pending();
            sender.join();
            if (pending_b) {
                // Both polls came before the send: B is the waker that counts, A was replaced.
                REQUIRE_MESSAGE(b.wakes() == 1, "the latest waker was not woken");
                REQUIRE_MESSAGE(a.wakes() == 0, "a replaced waker was woken");
            } else if (pending_a) {
                // The send came between the polls: it found A's waker and woke it; B's poll
                // then saw the value, and nobody ever kept B.
                REQUIRE(a.wakes() == 1);
                REQUIRE(b.wakes() == 0);
            } else {
                REQUIRE(a.wakes() == 0);
            }
        }
    }
}
