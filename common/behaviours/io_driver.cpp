// Behaviours of every stage with chapter 5's I/O driver (chapter 5 on): readiness and its
// tick, the translation of epoll's bits, the park in epoll_wait that a push from another
// thread interrupts, and AsyncFd's refusal outside a runtime.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "rt/async_fd.hpp"
#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/io_driver.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/parked.hpp"
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

namespace {

/// One recv of a byte through AsyncFd::poll_io, counting the system calls it makes. Past 100
/// calls within one poll it stops the loop with ELOOP: poll_io would be spinning.
struct CountedRecv {
    using Output = std::size_t;
    rt::AsyncFd& fd;
    int& calls;
    rt::Poll<std::size_t> poll(rt::Context& cx) {
        return fd.poll_io(cx, rt::Interest::readable, [this]() -> ssize_t {
            if (++calls > 100) {
                errno = ELOOP;
                return -1;
            }
            char byte = 0;
            return ::recv(fd.fd(), &byte, 1, 0);
        });
    }
};

}  // namespace

TEST_SUITE("errors and deregistration") {
    TEST_CASE("an error consumed by one call leaves the next call waiting, not spinning") {
        // A connected UDP socket whose datagram met a closed port: the ICMP port-unreachable
        // comes back as EPOLLERR, and the next recv returns ECONNREFUSED. The error is then
        // consumed: the call after it hears EAGAIN and must wait, not find the error bit still
        // set and try again, and again, inside one poll.
        // The ICMP error may not come: the socket that sends may be given the closed port as
        // its own (it then sends to itself), a test running beside this one may bind it
        // meanwhile, and the kernel limits how many ICMP errors it sends a second. So a few
        // tries, each on a new port, each bounded.
        int fd = -1;
        for (int attempt = 0; attempt < 10 && fd < 0; ++attempt) {
            const int probe = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            REQUIRE(probe >= 0);
            sockaddr_in address{};
            address.sin_family = AF_INET;
            address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t length = sizeof address;
            REQUIRE(::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
            REQUIRE(::getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length) == 0);
            ::close(probe);  // the port is closed now: a datagram to it is refused
            const int candidate = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            REQUIRE(candidate >= 0);
            REQUIRE(::connect(candidate, reinterpret_cast<sockaddr*>(&address), sizeof address) ==
                    0);
            REQUIRE(::send(candidate, "x", 1, 0) == 1);
            pollfd error{candidate, 0, 0};  // POLLERR is always reported; wait for it, bounded
            if (::poll(&error, 1, 3'000) == 1) {
                fd = candidate;
            } else {
                ::close(candidate);
            }
        }
        REQUIRE_MESSAGE(fd >= 0, "no ICMP error came back in 10 tries of 3 s");

        rt::Executor executor;
        std::optional<rt::AsyncFd> socket;
        int first_calls = 0;
        const int first_error = executor.block_on([&]() -> rt::Task<int> {
            socket.emplace(fd);
            try {
                co_await CountedRecv{*socket, first_calls};
            } catch (const std::system_error& failure) {
                co_return failure.code().value();
            }
            co_return 0;
        });
        CHECK(first_error == ECONNREFUSED);
        int second_calls = 0;
        CountedRecv second{*socket, second_calls};
        CHECK_FALSE(
            executor.block_on(testing::PollOnce<CountedRecv>{second}));  // waits: no datagram
        CHECK(second_calls == 1);  // one EAGAIN, then registered
        executor.block_on([&socket]() -> rt::Task<void> {
            socket.reset();  // deregistered from inside the runtime, like any socket
            co_return;
        });
    }

    TEST_CASE("a registration released on another thread outlives the events already reported") {
        // The driver's epoll_wait has returned an event carrying a ScheduledIo's address when
        // another thread destroys its AsyncFd. The ScheduledIo must survive until the driver
        // is done with that batch (AddressSanitizer sees a use after free otherwise), and the
        // wakers it held must be let go at once.
        auto poller = std::make_shared<rt::detail::Poller>();
        auto io = std::make_unique<rt::detail::ScheduledIo>();
        rt::detail::ScheduledIo* const reported = io.get();
        const int fd = ::eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);  // readable at once
        REQUIRE(fd >= 0);
        testing::CountingWaker reader;
        rt::Waker reader_waker = reader.waker();
        rt::Context cx(reader_waker);
        CHECK(io->poll_ready(cx, rt::Interest::readable).is_pending());  // keeps a clone
        poller->add(fd, io.get());
        epoll_event event{};
        REQUIRE(::epoll_wait(poller->fd(), &event, 1, 0) == 1);  // the driver has its event
        REQUIRE(static_cast<void*>(event.data.ptr) == static_cast<void*>(reported));
        std::thread([&] { poller->deregister(fd, std::move(io)); }).join();
        ::close(fd);
        CHECK(reader.alive() == 1);  // only the test's own waker: the clone was dropped
        std::vector<rt::Waker> to_wake;
        reported->set_ready(rt::detail::readiness_of(event.events), to_wake);  // still valid
        CHECK(to_wake.empty());
        poller->free_released();                               // the driver's next turn frees it
        CHECK(::epoll_wait(poller->fd(), &event, 1, 0) == 0);  // and nothing reports it again
    }
}

TEST_SUITE("parking in epoll_wait") {
    TEST_CASE("a wake from another thread interrupts the executor's epoll_wait") {
        // The waking thread waits until the executor is parked in epoll_wait before it wakes,
        // so the wake certainly has a park to interrupt, however slow the machine.
        rt::Executor executor;
        bool woken = false;
        bool saw_park = false;
        class WaitForThread {
        public:
            using Output = void;
            WaitForThread(bool& woken, bool& saw_park, std::jthread& thread)
                : woken_(woken), saw_park_(saw_park), thread_(thread) {}
            rt::Poll<void> poll(rt::Context& cx) {
                if (woken_) return rt::ready;
                thread_ = std::jthread([waker = cx.waker(), executor = testing::this_thread_id(),
                                        &woken = woken_, &saw_park = saw_park_]() mutable {
                    saw_park = testing::eventually(
                        [executor] { return testing::parked_in_epoll_wait(executor); });
                    woken = true;  // published by the wake's release, read after its acquire
                    std::move(waker).wake();
                });
                return rt::pending;
            }

        private:
            bool& woken_;
            bool& saw_park_;
            std::jthread& thread_;
        };
        std::jthread thread;
        executor.spawn(WaitForThread(woken, saw_park, thread));
        const rt::RunStats stats = executor.run();
        thread.join();
        REQUIRE_MESSAGE(saw_park, "the executor never parked in epoll_wait");
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
