// The interleaving explorer: a small model checker, in the spirit of Tokio's loom and of
// shuttle, for the protocols of the multi-threaded scheduler (chapter 8 on).
//
// A test body runs on model threads: real threads, of which exactly one runs at any moment.
// Every operation on a model atomic, mutex or condition variable (model/atomic.hpp,
// model/mutex.hpp) is a scheduling point: before it, the explorer picks which thread runs
// next, with a pseudo-random generator seeded by the execution's seed. So one seed is one
// interleaving of the threads' synchronisation, and running the same seed again replays it
// exactly: a failure found once is a failure that can be traced, step by step, and debugged.
//
// An execution fails when:
//  - every thread that has not finished waits (on a mutex, a condition variable, a join, or
//    a condition of the test's, model::block_until) and nothing can wake any of them: a
//    deadlock, or a lost wakeup, which looks the same from outside;
//  - the test's own check fails (model::check);
//  - a thread throws, or the execution takes more than Options::max_steps steps (a livelock,
//    or a test too big for its bound).
//
// How a thread is picked: each seed draws how often the explorer switches threads (at every
// step, or one step in 4, 16 or 64); at a switch, the next thread is drawn uniformly from those
// that can run. Rare switches find bugs that need one thread to run far alone; frequent ones,
// bugs that need tight interleaving. This explores interleavings only: every operation is
// sequentially consistent here, so a bug of a too weak memory order is not found (that is
// ThreadSanitizer's part, in the sanitized builds). Non-atomic memory is not checked either.
//
// A failing execution's threads are never resumed: unwinding them would run the code under
// test past the point where its protocol broke. They stay asleep until the process exits,
// with whatever they own; explore() stops at the first failure, so that is one execution.
//
// Outside an execution (no model thread), model atomics and mutexes are plain ones: code
// compiled for the model still runs normally.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <source_location>
#include <string>

namespace model {

struct Options {
    std::uint64_t first_seed = 1;
    std::uint64_t seeds = 1000;       // executions: first_seed, first_seed + 1, ...
    std::uint32_t max_steps = 20000;  // scheduling points per execution before it fails
};

/// What went wrong, and how: the steps of the failing execution, one per line.
struct Failure {
    std::uint64_t seed = 0;
    std::uint64_t executions = 0;  // how many ran, the failing one included
    std::string message;
    std::string trace;
};

/// Runs `body` once per seed, on model thread 0; stops at the first failure.
std::optional<Failure> explore(const Options& options, const std::function<void()>& body);

/// One execution, with the given seed. The trace is kept whether or not it fails.
struct Replay {
    std::optional<std::string> failure;  // the message, if it failed
    std::string trace;
};
Replay replay(std::uint64_t seed, const std::function<void()>& body,
              std::uint32_t max_steps = Options{}.max_steps);

/// A model thread: it starts at a scheduling point, like every other operation.
class Thread {
public:
    explicit Thread(std::function<void()> body,
                    std::source_location where = std::source_location::current());
    Thread(const Thread&) = delete;
    Thread& operator=(const Thread&) = delete;
    ~Thread();  // joins, if not joined yet
    /// Wait until the thread's body has returned (a scheduling point; waiting may deadlock).
    void join(std::source_location where = std::source_location::current());

private:
    std::source_location made_at_;
    std::uint32_t id_ = 0;
    bool joined_ = false;
};

/// A scheduling point: the explorer may let another thread run before this one goes on.
/// `what` names the operation in the trace. No-op outside an execution.
void step(const char* what, std::source_location where = std::source_location::current()) noexcept;

/// Wait until `ready()` is true: the thread runs no more until another thread has made it
/// true. `ready` is evaluated by whichever thread is choosing the next one; it must only read
/// state that model threads change. Outside an execution, spins.
void block_until(const std::function<bool()>& ready, const char* what,
                 std::source_location where = std::source_location::current()) noexcept;

/// The test's own assertion: a false `condition` fails the execution with `message`.
void check(bool condition, const char* message,
           std::source_location where = std::source_location::current()) noexcept;

/// A number drawn from the execution's generator, below `bound` (for a test that wants a
/// seeded choice of its own, e.g. which of two wakes comes). 0 outside an execution.
std::uint32_t choose(std::uint32_t bound) noexcept;

/// True on a model thread of an execution.
bool in_execution() noexcept;

}  // namespace model
