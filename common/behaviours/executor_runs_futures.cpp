// Behaviours every stage's executor keeps, written once and compiled into the tests of each
// chapter whose runtime has `rt::Executor` with `spawn(future)` and `run()` (every chapter).
// The stage's own headers come first on the include path, so "rt/executor.hpp" is the
// stage's executor.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "rt/executor.hpp"
#include "rt/future.hpp"

namespace {

/// Pending `times` times (waking itself each time, as a future that can progress must),
/// then ready. Records every poll in a shared log.
class Steps {
public:
    using Output = void;
    Steps(std::string name, int times, std::shared_ptr<std::vector<std::string>> log)
        : name_(std::move(name)), times_(times), log_(std::move(log)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        log_->push_back(name_ + std::to_string(polled_));
        if (polled_++ == times_) return rt::ready;
        cx.waker().wake_by_ref();
        return rt::pending;
    }

private:
    std::string name_;
    int times_;
    std::shared_ptr<std::vector<std::string>> log_;
    int polled_ = 0;
};

/// Sets a flag when destroyed, so a test can see that the executor released a task.
class Guarded {
public:
    using Output = void;
    explicit Guarded(std::shared_ptr<int> destroyed) : destroyed_(std::move(destroyed)) {}
    Guarded(Guarded&& other) noexcept : destroyed_(std::move(other.destroyed_)) {}
    ~Guarded() {
        if (destroyed_) ++*destroyed_;
    }
    rt::Poll<void> poll(rt::Context& cx) {
        cx.waker().wake_by_ref();
        return rt::pending;  // never finishes
    }

private:
    std::shared_ptr<int> destroyed_;
};

}  // namespace

TEST_SUITE("executor behaviours") {
    TEST_CASE("run returns at once when nothing was spawned") {
        rt::Executor executor;
        executor.run();
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("every spawned future is polled until ready, and never after") {
        auto log = std::make_shared<std::vector<std::string>>();
        rt::Executor executor;
        executor.spawn(Steps("a", 3, log));
        executor.run();
        CHECK(*log == std::vector<std::string>{"a0", "a1", "a2", "a3"});
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("futures run concurrently: a pending future lets the others run") {
        auto log = std::make_shared<std::vector<std::string>>();
        rt::Executor executor;
        executor.spawn(Steps("a", 2, log));
        executor.spawn(Steps("b", 1, log));
        executor.run();
        // Neither future ran to completion before the other started.
        CHECK(*log == std::vector<std::string>{"a0", "b0", "a1", "b1", "a2"});
    }

    TEST_CASE("many futures all complete") {
        auto log = std::make_shared<std::vector<std::string>>();
        rt::Executor executor;
        for (int i = 0; i < 1000; ++i) executor.spawn(Steps("t", i % 5, log));
        executor.run();
        std::size_t expected = 0;
        for (int i = 0; i < 1000; ++i) expected += static_cast<std::size_t>(i % 5 + 1);
        CHECK(log->size() == expected);
        CHECK(executor.pending_tasks() == 0);
    }

    TEST_CASE("an executor destroyed with tasks never run destroys them") {
        auto destroyed = std::make_shared<int>(0);
        {
            rt::Executor executor;
            executor.spawn(Guarded(destroyed));
            executor.spawn(Guarded(destroyed));
            CHECK(*destroyed == 0);
        }
        CHECK(*destroyed == 2);
    }
}
