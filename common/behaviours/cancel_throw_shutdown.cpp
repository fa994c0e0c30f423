// Behaviours of every stage with worker threads (chapter 8 on): a task aborted, or whose handle
// is dropped, while it waits on a socket, a timer, a oneshot channel or (chapter 9 on) the
// blocking pool releases everything it held, even when the wake races the abort; a task that
// throws never takes the runtime down; and a runtime destroyed with work in every state
// releases every future and closes every descriptor it opened.
//
// What is observed: a lifetime counter (objects made and not yet destroyed, atomic, since
// futures die on worker threads), the JoinHandle's outcome, and the descriptors the test opened.
// A use after free (a wake reaching a destroyed task) is the sanitizers' to see. No verdict
// depends on speed: each round accepts either outcome of a race (aborted, or completed just
// before), and checks that exactly one happened and that nothing is left alive.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_listener.hpp"
#include "rt/net/tcp_stream.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "rt/sync/oneshot.hpp"
#include "rt/timeout.hpp"
#include "rt/yield_now.hpp"
#include "testing/descriptors.hpp"
#include "testing/eventually.hpp"
#include "testing/printing.hpp"

#if __has_include("rt/blocking/pool.hpp")
#define RT_HAS_BLOCKING_POOL 1  // chapter 9 on: spawn_blocking
#else
#define RT_HAS_BLOCKING_POOL 0
#endif

using namespace std::chrono_literals;
using rt::net::TcpListener;
using rt::net::TcpStream;

namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int rounds = 60;  // sanitized builds: fewer rounds of the same races
#else
constexpr int rounds = 200;
#endif

/// How many tracked objects exist: made and not yet destroyed, from any thread.
struct Lifetimes {
    std::atomic<int> alive{0};
    std::atomic<int> made{0};
};

/// One tracked object: counted alive from its construction (or copy) to its destruction.
class Tracked {
public:
    explicit Tracked(Lifetimes* lifetimes) : lifetimes_(lifetimes) { count(); }
    Tracked(const Tracked& other) : lifetimes_(other.lifetimes_) { count(); }
    Tracked& operator=(const Tracked&) = delete;
    ~Tracked() { lifetimes_->alive.fetch_sub(1); }

private:
    void count() {
        lifetimes_->alive.fetch_add(1);
        lifetimes_->made.fetch_add(1);
    }
    Lifetimes* lifetimes_;  // the test's, which outlives every runtime it makes
};

/// A door a blocking call waits behind, opened from another thread. A call that finds it shut
/// for the project's patience gives up, so that a failing test cannot hang the runtime's
/// destructor (which waits for running calls).
class Gate {
public:
    void wait() {
        std::unique_lock lock(mutex_);
        ++arrived_;
        opened_.wait_for(lock, testing::patience(), [&] { return open_; });
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }
    int arrived() {
        std::lock_guard lock(mutex_);
        return arrived_;
    }

private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = false;
    int arrived_ = 0;
};

/// What a task waits on in a round.
enum class Wait { socket, timer, channel, blocking };
/// What happens to it: aborted while nothing wakes it; aborted while another task wakes it;
/// its handle dropped while another task wakes it (it must then finish by itself).
enum class Fate { abort, abort_racing_wake, drop_racing_wake };

/// The things one round's waiter waits on, and the means to wake it.
struct Round {
    std::optional<TcpStream> client;  // writing one byte wakes the reader
    std::optional<TcpStream> server;  // the waiter reads it
    std::optional<rt::sync::oneshot::Sender<int>> sender;
    std::optional<rt::sync::oneshot::Receiver<int>> receiver;
    std::shared_ptr<Gate> gate = std::make_shared<Gate>();
    std::atomic<bool> waiting{false};  // the waiter is about to await
};

/// The waiter: holds a Tracked, then waits on what `wait` says. Owns what it waits on.
rt::Task<void> waiter(Wait wait, Fate fate, Lifetimes* lifetimes, Round* round,
                      std::atomic<int>* finished) {
    Tracked tracked(lifetimes);
    std::optional<TcpStream> server = std::move(round->server);
    std::optional<rt::sync::oneshot::Receiver<int>> receiver = std::move(round->receiver);
    const std::shared_ptr<Gate> gate = round->gate;
    // From here on `round` may be gone: a dropped handle's round does not wait for this task.
    round->waiting = true;
    switch (wait) {
        case Wait::socket: {
            char byte = 0;
            (void)co_await server->read(std::span(&byte, 1));
            break;
        }
        case Wait::timer: {
            const std::chrono::nanoseconds span = fate == Fate::abort ? 1h : 100us;
            co_await rt::sleep(span);  // no ?: inside a co_await (docs/rust-to-cpp.md)
            break;
        }
        case Wait::channel:
            (void)co_await std::move(*receiver);
            break;
        case Wait::blocking:
#if RT_HAS_BLOCKING_POOL
        {
            // A statement of its own: GCC 12 destroys a lambda temporary in a co_await's
            // full-expression twice (rt/fs/fs.hpp).
            auto call = rt::spawn_blocking([gate, held = Tracked(lifetimes)] { gate->wait(); });
            co_await std::move(call);
        }
#endif
        break;
    }
    finished->fetch_add(1);
}

/// Wake the waiter by the means its round has (a timer wakes by itself).
rt::Task<void> wake(Wait wait, Round* round) {
    switch (wait) {
        case Wait::socket:
            co_await round->client->write_all(std::string_view("!"));
            break;
        case Wait::channel:
            std::move(*round->sender).send(1);
            break;
        case Wait::blocking:
            round->gate->open();
            break;
        case Wait::timer:
            break;
    }
}

/// Outcomes of the rounds, checked on the test's thread.
struct Tally {
    int aborted = 0;     // handles that threw TaskAborted
    int completed = 0;   // handles that gave the value: the wake won the race
    int dropped = 0;     // handles dropped
    int left_alive = 0;  // rounds after which the aborted waiter's Tracked was still alive
    int timed_out = 0;   // rounds still running after the project's patience
};

/// One round, on a worker: spawn the waiter, wait (bounded) until it is about to await, then
/// abort it or drop its handle, while a task on another worker wakes it or not.
rt::Task<void> round_of(Wait wait, Fate fate, TcpListener* listener, Lifetimes* lifetimes,
                        std::atomic<int>* finished, Tally* tally) {
    Round round;
    if (wait == Wait::socket) {
        round.client = co_await TcpStream::connect(listener->local_address());
        round.server = co_await listener->accept();
    }
    auto [sender, receiver] = rt::sync::oneshot::channel<int>();
    round.sender.emplace(std::move(sender));
    round.receiver.emplace(std::move(receiver));
    const int alive_before = lifetimes->alive.load();

    std::optional<rt::JoinHandle<void>> handle =
        rt::spawn(waiter(wait, fate, lifetimes, &round, finished));
    const auto give_up = std::chrono::steady_clock::now() + testing::patience();
    while (!round.waiting.load() && std::chrono::steady_clock::now() < give_up) {
        co_await rt::yield_now();
    }
    std::optional<rt::JoinHandle<void>> waker;
    if (fate != Fate::abort) waker = rt::spawn(wake(wait, &round));
    if (fate == Fate::drop_racing_wake) {
        handle.reset();
        ++tally->dropped;
    } else {
        handle->abort();
        try {
            co_await std::move(*handle);
            ++tally->completed;
        } catch (const rt::TaskAborted&) {
            ++tally->aborted;
        }
        // Aborted or completed, its future is gone, and its Tracked with it. A blocking call
        // cannot be interrupted: once its awaiting task is aborted it may still be running
        // (behind the shut gate, or on its way out of it), with its own Tracked.
        const int held_by_call = wait == Wait::blocking ? 1 : 0;
        if (lifetimes->alive.load() > alive_before + held_by_call) ++tally->left_alive;
    }
    if (waker) co_await std::move(*waker);
    round.gate->open();  // a blocking call left behind by an abort ends
}

/// A task's failure that carries a Tracked: the exception object's lifetime is observable.
struct Failure : std::runtime_error {
    Failure(Lifetimes* lifetimes, int number)
        : std::runtime_error("task " + std::to_string(number) + " failed"), tracked(lifetimes) {}
    Tracked tracked;
};

rt::Task<int> fails(Lifetimes* lifetimes, int number) {
    co_await rt::yield_now();  // thrown at a later poll, maybe on another worker
    throw Failure(lifetimes, number);
}

/// Installs a handler for exceptions nobody awaits, and puts the previous one back when the
/// test case ends, even through a failed REQUIRE.
class HandlerInstalled {
public:
    explicit HandlerInstalled(rt::UnawaitedExceptionHandler handler)
        : previous_(rt::unawaited_exception_handler.exchange(handler)) {}
    ~HandlerInstalled() { rt::unawaited_exception_handler = previous_; }
    HandlerInstalled(const HandlerInstalled&) = delete;
    HandlerInstalled& operator=(const HandlerInstalled&) = delete;

private:
    rt::UnawaitedExceptionHandler previous_;
};

/// What `write` printed on stderr: descriptor 2 points at a temporary file meanwhile.
template <class Write>
std::string stderr_of(Write write) {
    std::fflush(stderr);
    std::FILE* file = std::tmpfile();
    REQUIRE_MESSAGE(file != nullptr, "no temporary file for stderr");
    const int saved = ::dup(2);
    REQUIRE_MESSAGE(saved >= 0, "stderr could not be duplicated");
    ::dup2(::fileno(file), 2);
    write();
    std::fflush(stderr);
    ::dup2(saved, 2);
    ::close(saved);
    std::string text;
    std::rewind(file);
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file))
        text.push_back(static_cast<char>(c));
    std::fclose(file);
    return text;
}

/// Run the rounds of every (wait, fate) pair on a runtime of `workers` workers, then destroy it.
void run_rounds(std::size_t workers, Wait wait) {
    const testing::DescriptorSnapshot before;
    Lifetimes lifetimes;
    std::atomic<int> finished{0};
    Tally tally;
    {
        rt::Runtime runtime(workers);
        runtime.block_on([&]() -> rt::Task<void> {
            TcpListener listener = TcpListener::bind("127.0.0.1:0");
            for (int i = 0; i < rounds; ++i) {
                const Fate fate = static_cast<Fate>(i % 3);
                if (!co_await rt::timeout(
                        testing::patience(),
                        round_of(wait, fate, &listener, &lifetimes, &finished, &tally))) {
                    ++tally.timed_out;
                }
            }
        });
        // A dropped handle's task finishes by itself once woken.
        CHECK_MESSAGE(testing::eventually([&] { return lifetimes.alive.load() == 0; }),
                      "a waiter whose handle was dropped, or a blocking call, never finished");
    }
    const int dropped_rounds = rounds / 3;
    CHECK(tally.timed_out == 0);
    CHECK(tally.aborted + tally.completed + tally.dropped == rounds);
    CHECK(tally.dropped == dropped_rounds);
    CHECK(tally.aborted >= rounds / 3);  // at least the rounds where nothing woke the waiter
    CHECK(tally.left_alive == 0);
    CHECK(finished.load() >= dropped_rounds);  // every detached waiter ran to its end
    CHECK(lifetimes.alive.load() == 0);
    CHECK(lifetimes.made.load() >= rounds);
    CHECK(before.opened_since() == std::vector<std::string>{});
}

}  // namespace

TEST_SUITE("cancellation") {
    TEST_CASE("a task aborted or detached while it waits on a socket read releases everything") {
        run_rounds(3, Wait::socket);
    }
    TEST_CASE("a task aborted or detached while it waits on a timer releases everything") {
        run_rounds(2, Wait::timer);
    }
    TEST_CASE("a task aborted or detached while it waits on a oneshot releases everything") {
        run_rounds(4, Wait::channel);
    }
#if RT_HAS_BLOCKING_POOL
    TEST_CASE("a task aborted or detached while it awaits the blocking pool releases everything") {
        run_rounds(2, Wait::blocking);
    }
#endif
}

TEST_SUITE("exceptions") {
    TEST_CASE("a task's exception reaches the task awaiting its handle, on any worker") {
        Lifetimes lifetimes;
        int caught = 0;
        int right_message = 0;
        {
            rt::Runtime runtime(3);
            runtime.block_on([&]() -> rt::Task<void> {
                std::vector<rt::JoinHandle<int>> handles;
                for (int i = 0; i < rounds; ++i) handles.push_back(rt::spawn(fails(&lifetimes, i)));
                for (int i = 0; i < rounds; ++i) {
                    try {
                        (void)co_await std::move(handles[i]);
                    } catch (const Failure& failure) {
                        ++caught;
                        if (failure.what() == "task " + std::to_string(i) + " failed") {
                            ++right_message;
                        }
                    }
                }
            });
        }
        CHECK(caught == rounds);
        CHECK(right_message == rounds);
        CHECK(lifetimes.alive.load() == 0);
    }

    TEST_CASE(
        "an exception nobody awaits is reported once, with its task, and the runtime runs on") {
        // It is reported when the task is freed, when nobody can await it any more: at once for
        // a detached task, with the last handle for one whose handle was kept (rt/task.hpp).
        static std::atomic<int> reported{0};
        reported = 0;
        const HandlerInstalled counting([](std::exception_ptr) noexcept { reported.fetch_add(1); });
        Lifetimes lifetimes;
        std::vector<rt::JoinHandle<int>> kept;  // awaited by nobody, and outliving the runtime
        {
            rt::Runtime runtime(2);
            for (int i = 0; i < rounds; ++i) {
                if (i % 2 == 0) {
                    (void)runtime.spawn(fails(&lifetimes, i));  // detached at once
                } else {
                    kept.push_back(runtime.spawn(fails(&lifetimes, i)));
                }
            }
            CHECK(runtime.block_on([]() -> rt::Task<int> {
                co_await rt::yield_now();
                co_return 42;
            }) == 42);
            REQUIRE_MESSAGE(testing::eventually([&] {
                                for (auto& handle : kept) {
                                    if (!handle.is_finished()) return false;
                                }
                                return true;
                            }),
                            "a throwing task never finished");
            // The detached ones are gone with their exceptions; the kept ones hold theirs.
            CHECK_MESSAGE(testing::eventually([&] {
                              return lifetimes.alive.load() == static_cast<int>(kept.size());
                          }),
                          "a detached task's exception outlived it");
        }
        CHECK(lifetimes.alive.load() == static_cast<int>(kept.size()));
        CHECK(reported.load() == rounds - static_cast<int>(kept.size()));
        kept.clear();
        CHECK(lifetimes.alive.load() == 0);
        CHECK(lifetimes.made.load() >= rounds);
        CHECK(reported.load() == rounds);
    }

    TEST_CASE("the default report of an exception nobody awaits names it on stderr") {
        const std::string report = stderr_of([] {
            rt::print_unawaited_exception(
                std::make_exception_ptr(std::runtime_error("task 7 failed")));
            rt::print_unawaited_exception(std::make_exception_ptr(42));  // not a std::exception
        });
        CHECK(report ==
              "rt: a task ended with an exception nobody awaited: task 7 failed\n"
              "rt: a task ended with an exception nobody awaited\n");
    }
}

TEST_SUITE("shutdown") {
    TEST_CASE("a runtime destroyed with work in every state releases every future and descriptor") {
        const testing::DescriptorSnapshot before;
        Lifetimes lifetimes;
        std::atomic<int> started{0};
        std::vector<rt::JoinHandle<void>> handles;
        std::vector<rt::sync::oneshot::Sender<int>> senders;  // outlive the runtime
        const int each = 4;
        int expected = 0;
        auto gate = std::make_shared<Gate>();
        {
#if RT_HAS_BLOCKING_POOL
            rt::BlockingOptions options;
            options.max_threads = 2;  // two calls run, the others wait in the pool's queue
            auto runtime = std::make_unique<rt::Runtime>(3, rt::Scheduling::work_stealing, options);
#else
            auto runtime = std::make_unique<rt::Runtime>(3);
#endif
            auto spawn = [&](auto make) {
                handles.push_back(runtime->spawn(
                    [make, tracked = Tracked(&lifetimes), &started]() -> rt::Task<void> {
                        started.fetch_add(1);
                        co_await make();
                    }));
                ++expected;
            };
            // Waiting on I/O: a listener accepting, and both ends of connections reading.
            auto listener = std::make_shared<std::optional<TcpListener>>();
            std::vector<std::shared_ptr<TcpStream>> streams;
            runtime->block_on([&]() -> rt::Task<void> {
                listener->emplace(TcpListener::bind("127.0.0.1:0"));
                for (int i = 0; i < each; ++i) {
                    streams.push_back(std::make_shared<TcpStream>(
                        co_await TcpStream::connect((*listener)->local_address())));
                    streams.push_back(std::make_shared<TcpStream>(co_await (*listener)->accept()));
                }
            });
            spawn([listener]() -> rt::Task<void> { (void)co_await (*listener)->accept(); });
            for (auto& stream : streams) {
                spawn([stream]() -> rt::Task<void> {
                    char byte = 0;
                    (void)co_await stream->read(std::span(&byte, 1));
                });
            }
            streams.clear();
            listener.reset();
            for (int i = 0; i < each; ++i) {
                spawn([]() -> rt::Task<void> { co_await rt::sleep(1h); });  // on a timer
                spawn([]() -> rt::Task<void> {                              // running or queued
                    for (;;) co_await rt::yield_now();
                });
                auto [sender, receiver] = rt::sync::oneshot::channel<int>();
                senders.push_back(std::move(sender));
                spawn([receiver = std::make_shared<rt::sync::oneshot::Receiver<int>>(
                           std::move(receiver))]() -> rt::Task<void> {  // on a channel
                    (void)co_await std::move(*receiver);
                });
#if RT_HAS_BLOCKING_POOL
                spawn([gate, &lifetimes]() -> rt::Task<void> {  // on the blocking pool
                    auto call = rt::spawn_blocking(             // named: see waiter()
                        [gate, held = Tracked(&lifetimes)] { gate->wait(); });
                    co_await std::move(call);
                });
#endif
            }
            REQUIRE_MESSAGE(testing::eventually([&] { return started.load() == expected; }),
                            "not every task started");
#if RT_HAS_BLOCKING_POOL
            REQUIRE_MESSAGE(testing::eventually([&] { return gate->arrived() == 2; }),
                            "the blocking pool did not start two calls");
#endif
            // And tasks queued, never polled: shutdown may come before a worker takes them.
            for (int i = 0; i < each; ++i) {
                handles.push_back(runtime->handle().spawn(
                    [tracked = Tracked(&lifetimes)]() -> rt::Task<void> { co_return; }));
            }
#if RT_HAS_BLOCKING_POOL
            // The destructor waits for the two running calls: destroy the runtime on another
            // thread, see every future but theirs released, then let them end.
            std::thread closer([&runtime] { runtime.reset(); });
            const bool only_calls_left =
                testing::eventually([&] { return lifetimes.alive.load() == 2; });
            gate->open();
            closer.join();
            CHECK_MESSAGE(only_calls_left,
                          "shutdown did not release the futures while blocking calls ran");
#else
            runtime.reset();
#endif
        }
        CHECK(lifetimes.alive.load() == 0);
        for (auto& handle : handles) {
            rt::Waker waker = rt::noop_waker();
            rt::Context cx(waker);
            try {
                (void)handle.poll(cx).is_ready();  // queued ones may have completed
            } catch (const rt::TaskAborted&) {
            }
            CHECK(handle.is_finished());
        }
        senders.clear();  // their receivers are gone: a send or a close wakes nobody
        // A handle holds its task, and the task the workers' shared state, whose eventfd goes
        // with the last of them (rt/multi_thread/multi_thread.hpp, step 6).
        handles.clear();
        CHECK(before.opened_since() == std::vector<std::string>{});
    }
}
