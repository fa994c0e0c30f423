// Behaviours of every stage with chapter 5's I/O driver (chapter 5 on): readiness and its
// tick, the translation of epoll's bits, the park in epoll_wait that a push from another
// thread interrupts, and AsyncFd's refusal outside a runtime.
#include <doctest/doctest.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>

#include "rt/async_fd.hpp"
#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/io_driver.hpp"
#include "rt/yield_now.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;

TEST_SUITE("readiness") {
    TEST_CASE("a descriptor not ready keeps the waker, and a report wakes it once") {
        rt::detail::ScheduledIo io;
        testing::CountingWaker reader;
        rt::Waker reader_waker = reader.waker();
        rt::Context cx_reader(reader_waker);
        CHECK(io.poll_ready(cx_reader, rt::Interest::readable).is_pending());
        std::vector<rt::Waker> to_wake;
        io.set_ready(rt::detail::writable, to_wake);
        CHECK(to_wake.empty());  // writable does not concern a reader
        io.set_ready(rt::detail::readable, to_wake);
        REQUIRE(to_wake.size() == 1);
        for (rt::Waker& waker : to_wake) std::move(waker).wake();
        CHECK(reader.wakes() == 1);
        rt::Poll<rt::ReadyEvent> event = io.poll_ready(cx_reader, rt::Interest::readable);
        REQUIRE(event.is_ready());
        CHECK(event.value().ready == rt::detail::readable);
    }

    TEST_CASE("the reader and the writer wait in separate slots") {
        rt::detail::ScheduledIo io;
        testing::CountingWaker reader;
        testing::CountingWaker writer;
        rt::Waker reader_waker = reader.waker();
        rt::Waker writer_waker = writer.waker();
        rt::Context cx_reader(reader_waker);
        rt::Context cx_writer(writer_waker);
        CHECK(io.poll_ready(cx_reader, rt::Interest::readable).is_pending());
        CHECK(io.poll_ready(cx_writer, rt::Interest::writable).is_pending());
        std::vector<rt::Waker> to_wake;
        io.set_ready(rt::detail::writable, to_wake);
        for (rt::Waker& waker : to_wake) std::move(waker).wake();
        CHECK(writer.wakes() == 1);
        CHECK(reader.wakes() == 0);
    }

    TEST_CASE("clearing after EAGAIN forgets the readiness that was seen") {
        rt::detail::ScheduledIo io;
        std::vector<rt::Waker> to_wake;
        io.set_ready(rt::detail::readable | rt::detail::writable, to_wake);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        rt::Poll<rt::ReadyEvent> seen = io.poll_ready(cx, rt::Interest::readable);
        REQUIRE(seen.is_ready());
        io.clear_ready(seen.value());
        CHECK(io.poll_ready(cx, rt::Interest::readable).is_pending());
        CHECK(io.poll_ready(cx, rt::Interest::writable).is_ready());  // the other direction stays
    }

    TEST_CASE("an event reported after the readiness was seen survives the clear (the tick)") {
        rt::detail::ScheduledIo io;
        std::vector<rt::Waker> to_wake;
        io.set_ready(rt::detail::readable, to_wake);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        rt::Poll<rt::ReadyEvent> seen = io.poll_ready(cx, rt::Interest::readable);
        REQUIRE(seen.is_ready());
        // The read said EAGAIN; before the task clears, new data is reported.
        io.set_ready(rt::detail::readable, to_wake);
        io.clear_ready(seen.value());
        CHECK(io.poll_ready(cx, rt::Interest::readable).is_ready());  // not lost
    }

    TEST_CASE("a closed direction and an error stay set after a clear") {
        rt::detail::ScheduledIo io;
        std::vector<rt::Waker> to_wake;
        io.set_ready(rt::detail::readiness_of(EPOLLRDHUP), to_wake);
        rt::Waker waker = rt::noop_waker();
        rt::Context cx(waker);
        rt::Poll<rt::ReadyEvent> seen = io.poll_ready(cx, rt::Interest::readable);
        REQUIRE(seen.is_ready());
        io.clear_ready(seen.value());
        CHECK(io.poll_ready(cx, rt::Interest::readable).is_ready());  // read_closed is final
    }

    TEST_CASE("epoll's bits translate to the readiness each direction needs") {
        using namespace rt::detail;
        CHECK(readiness_of(EPOLLIN) == readable);
        CHECK(readiness_of(EPOLLOUT) == writable);
        CHECK(readiness_of(EPOLLRDHUP) == (readable | read_closed));
        CHECK((readiness_of(EPOLLHUP) & mask_of(rt::Interest::readable)) != 0);
        CHECK((readiness_of(EPOLLHUP) & mask_of(rt::Interest::writable)) != 0);
        CHECK((readiness_of(EPOLLERR) & failed) != 0);
    }
}

TEST_SUITE("parking in epoll_wait") {
    TEST_CASE("a wake from another thread interrupts the executor's epoll_wait") {
        rt::Executor executor;
        bool woken = false;
        class WaitForThread {
        public:
            using Output = void;
            WaitForThread(bool& woken, std::jthread& thread) : woken_(woken), thread_(thread) {}
            rt::Poll<void> poll(rt::Context& cx) {
                if (woken_) return rt::ready;
                thread_ = std::jthread([waker = cx.waker(), &woken = woken_]() mutable {
                    std::this_thread::sleep_for(10ms);
                    woken = true;  // published by the wake's release, read after its acquire
                    std::move(waker).wake();
                });
                return rt::pending;
            }

        private:
            bool& woken_;
            std::jthread& thread_;
        };
        std::jthread thread;
        executor.spawn(WaitForThread(woken, thread));
        const rt::RunStats stats = executor.run();
        CHECK(woken);
        CHECK(stats.polls == 2);
        CHECK(stats.parks >= 1);
        CHECK(stats.io_events >= 1);  // the eventfd's
    }

    TEST_CASE("an AsyncFd outside a running executor is refused, and its descriptor closed") {
        const int fd = ::eventfd(0, EFD_CLOEXEC);
        REQUIRE(fd >= 0);
        CHECK_THROWS_WITH_AS(rt::AsyncFd{fd}, doctest::Contains("needs a running executor"),
                             std::logic_error);
        CHECK(::fcntl(fd, F_GETFD) == -1);  // closed: ownership was given
    }

    TEST_CASE("an eventfd made ready by another thread wakes a task through the driver") {
        const std::uint64_t value = rt::block_on([]() -> rt::Task<std::uint64_t> {
            rt::AsyncFd fd(::eventfd(0, EFD_CLOEXEC));
            std::jthread writer([raw = fd.fd()] {
                std::this_thread::sleep_for(5ms);
                const std::uint64_t one = 41;
                [[maybe_unused]] const ssize_t bytes = ::write(raw, &one, sizeof one);
            });
            std::uint64_t count = 0;
            struct ReadCounter {
                using Output = std::size_t;
                rt::AsyncFd& fd;
                std::uint64_t& count;
                rt::Poll<std::size_t> poll(rt::Context& cx) {
                    return fd.poll_io(cx, rt::Interest::readable,
                                      [this] { return ::read(fd.fd(), &count, sizeof count); });
                }
            };
            co_await ReadCounter{fd, count};
            co_return count + 1;
        });
        CHECK(value == 42);
    }
}
