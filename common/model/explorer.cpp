// The interleaving explorer's engine (model/explorer.hpp says what it does).
//
// The baton. Each model thread has a binary semaphore; the one running holds the baton, and
// hands it over by releasing the next thread's semaphore, then acquiring its own. So exactly
// one model thread runs at a time, and the release/acquire pair orders everything it did
// before everything the next one does: the explorer's own state (the threads, the trace, the
// waiting conditions) needs no other lock. The thread that calls explore() is not a model
// thread: it starts thread 0 and waits for the execution to end.
#include "model/explorer.hpp"

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <semaphore>
#include <thread>
#include <vector>

namespace model {
namespace {

/// splitmix64: small, fast, and the same sequence on every platform for one seed.
class Generator {
public:
    explicit Generator(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() noexcept {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint32_t below(std::uint32_t bound) noexcept {
        return bound == 0 ? 0 : static_cast<std::uint32_t>(next() % bound);
    }

private:
    std::uint64_t state_;
};

const char* base_name(const char* path) {
    const char* name = path;
    for (const char* c = path; *c != '\0'; ++c) {
        if (*c == '/') name = c + 1;
    }
    return name;
}

class Execution;
thread_local Execution* current_execution = nullptr;
thread_local std::uint32_t current_thread = 0;

class Execution {
public:
    Execution(std::uint64_t seed, std::uint32_t max_steps)
        : generator_(seed), max_steps_(max_steps) {
        // How often this seed switches threads: at every step, or 1 in 4, 16 or 64.
        switch_one_in_ = std::uint32_t{1} << (2 * generator_.below(4));
    }

    /// Start thread 0 with the body, and wait until the execution ends. False if it failed.
    bool run(const std::function<void()>& body) {
        start(body);
        // A backstop for a thread that blocks outside the model (a real lock, a system call
        // that waits): then the baton never comes back. Not a verdict on speed: an execution
        // takes milliseconds, and this waits two minutes.
        if (!ended_.try_acquire_for(std::chrono::minutes(2))) {
            std::fputs(
                "model: an execution made no progress for 2 minutes: a model thread "
                "blocks outside the model (a std::mutex, a system call?)\n",
                stderr);
            std::abort();
        }
        return !failure_.has_value();
    }

    /// After a successful run: every thread has returned.
    void join_all() {
        for (auto& thread : threads_) {
            if (thread->os.joinable()) thread->os.join();
        }
    }
    /// After a failure: the threads stay asleep for good (explorer.hpp says why).
    void abandon() {
        for (auto& thread : threads_) {
            if (thread->os.joinable()) thread->os.detach();
        }
    }

    const std::optional<std::string>& failure() const { return failure_; }

    std::string trace() const {
        std::string text;
        char line[512];
        for (std::size_t i = 0; i < trace_.size(); ++i) {
            const Record& record = trace_[i];
            if (record.file == nullptr) {
                std::snprintf(line, sizeof line, "%6zu  thread %u  %s\n", i + 1, record.thread,
                              record.what);
            } else {
                std::snprintf(line, sizeof line, "%6zu  thread %u  %-30s %s:%u\n", i + 1,
                              record.thread, record.what, base_name(record.file), record.line);
            }
            text += line;
        }
        if (dropped_ > 0) text += "  (" + std::to_string(dropped_) + " later steps not kept)\n";
        return text;
    }

    std::uint32_t start(std::function<void()> body) {
        const auto id = static_cast<std::uint32_t>(threads_.size());
        threads_.push_back(std::make_unique<ThreadState>());
        ThreadState& state = *threads_.back();
        // The new thread reads its own state only: threads_ may grow meanwhile.
        state.os = std::thread([this, id, &state, body = std::move(body)] {
            current_execution = this;
            current_thread = id;
            state.baton.acquire();  // wait for our first turn
            try {
                body();
            } catch (const std::exception& error) {
                fail(std::string("thread ") + std::to_string(id) + " threw: " + error.what());
            } catch (...) {
                fail("thread " + std::to_string(id) + " threw an exception");
            }
            finish();
        });
        if (id == 0) state.baton.release();  // the body's thread starts at once
        return id;
    }

    /// Maybe let another thread run first; then the operation is this thread's, and the
    /// trace has it, in the order the operations happen.
    void step(const char* what, const std::source_location& where) noexcept {
        if (++steps_ > max_steps_) {
            fail("no end after " + std::to_string(max_steps_) +
                 " steps: a livelock, or a test too long for the bound");
        }
        // The stepping thread can run (it waits for nothing): stay, or draw among all.
        if (generator_.below(switch_one_in_) == 0) switch_to(pick());
        record(what, &where);
    }

    void block_until(const std::function<bool()>& ready, const char* what,
                     const std::source_location& where) noexcept {
        const std::uint32_t me = current_thread;
        ThreadState& state = *threads_[me];
        state.waits_for = what;
        state.waits_where = where;
        state.ready = &ready;
        if (!ready()) record(what, &where);
        while (!ready()) switch_to(pick());
        state.ready = nullptr;
    }

    [[noreturn]] void fail(std::string message) noexcept {
        failure_ = std::move(message);
        ended_.release();
        sleep_forever();
    }

    bool finished(std::uint32_t id) const { return threads_[id]->finished; }
    std::uint32_t below(std::uint32_t bound) noexcept { return generator_.below(bound); }

private:
    struct ThreadState {
        std::binary_semaphore baton{0};
        std::thread os;
        const std::function<bool()>* ready = nullptr;  // set while it waits
        const char* waits_for = "";
        std::source_location waits_where;
        bool finished = false;
    };
    struct Record {
        std::uint32_t thread;
        const char* what;
        const char* file;
        std::uint32_t line;
    };
    static constexpr std::size_t kept_steps = 2000;

    bool runnable(std::uint32_t id) const {
        const ThreadState& state = *threads_[id];
        return !state.finished && (state.ready == nullptr || (*state.ready)());
    }

    /// `where`: null for the explorer's own events (a thread returns).
    void record(const char* what, const std::source_location* where) {
        if (trace_.size() < kept_steps) {
            trace_.push_back({current_thread, what, where != nullptr ? where->file_name() : nullptr,
                              where != nullptr ? where->line() : 0});
        } else {
            ++dropped_;
        }
    }

    /// The threads that can run now.
    std::vector<std::uint32_t> runnable_threads() const {
        std::vector<std::uint32_t> candidates;
        for (std::uint32_t id = 0; id < threads_.size(); ++id) {
            if (runnable(id)) candidates.push_back(id);
        }
        return candidates;
    }

    /// None can run, and some have not finished: they all wait for each other.
    std::string deadlock() const {
        std::string message =
            "every thread waits, and none can wake another (a deadlock, or a lost wakeup):";
        for (std::uint32_t id = 0; id < threads_.size(); ++id) {
            const ThreadState& state = *threads_[id];
            if (state.finished) continue;
            message += "\n  thread " + std::to_string(id) + " " + state.waits_for + " at " +
                       base_name(state.waits_where.file_name()) + ":" +
                       std::to_string(state.waits_where.line());
        }
        return message;
    }

    /// The next thread to run: one drawn from those that can.
    std::uint32_t pick() noexcept {
        const std::vector<std::uint32_t> candidates = runnable_threads();
        if (candidates.empty()) fail(deadlock());
        return candidates[generator_.below(static_cast<std::uint32_t>(candidates.size()))];
    }

    void switch_to(std::uint32_t next) noexcept {
        const std::uint32_t me = current_thread;
        if (next == me) return;
        // Both found before the release: from then on the next thread runs, and may spawn one,
        // which grows threads_.
        std::binary_semaphore& mine = threads_[me]->baton;
        threads_[next]->baton.release();
        mine.acquire();
    }

    /// The thread's body returned: hand the baton on, or end the execution.
    void finish() noexcept {
        threads_[current_thread]->finished = true;
        record("returns", nullptr);
        bool all_finished = true;
        for (const auto& thread : threads_) all_finished = all_finished && thread->finished;
        if (all_finished) {
            ended_.release();
            return;
        }
        const std::vector<std::uint32_t> candidates = runnable_threads();
        if (candidates.empty()) {
            // Only this thread could have woken the others, and it is gone. This thread ends
            // (its os thread returns); the others sleep for good.
            failure_ = deadlock();
            ended_.release();
            return;
        }
        threads_[candidates[generator_.below(static_cast<std::uint32_t>(candidates.size()))]]
            ->baton.release();
    }

    [[noreturn]] void sleep_forever() noexcept {
        std::binary_semaphore never{0};
        for (;;) never.acquire();
    }

    Generator generator_;
    std::uint32_t switch_one_in_ = 1;
    std::uint32_t max_steps_;
    std::uint64_t steps_ = 0;
    std::vector<std::unique_ptr<ThreadState>> threads_;
    std::vector<Record> trace_;
    std::uint64_t dropped_ = 0;
    std::optional<std::string> failure_;
    std::binary_semaphore ended_{0};
};

/// One execution. A failed one is leaked on purpose, with its sleeping threads.
Replay run_one(std::uint64_t seed, const std::function<void()>& body, std::uint32_t max_steps) {
    auto* execution = new Execution(seed, max_steps);
    Replay result;
    if (execution->run(body)) {
        result.trace = execution->trace();
        execution->join_all();
        delete execution;
        return result;
    }
    result.failure = execution->failure();
    result.trace = execution->trace();
    execution->abandon();
    return result;
}

}  // namespace

std::optional<Failure> explore(const Options& options, const std::function<void()>& body) {
    for (std::uint64_t i = 0; i < options.seeds; ++i) {
        const std::uint64_t seed = options.first_seed + i;
        Replay result = run_one(seed, body, options.max_steps);
        if (result.failure) {
            return Failure{seed, i + 1, std::move(*result.failure), std::move(result.trace)};
        }
    }
    return std::nullopt;
}

Replay replay(std::uint64_t seed, const std::function<void()>& body, std::uint32_t max_steps) {
    return run_one(seed, body, max_steps);
}

Thread::Thread(std::function<void()> body, std::source_location where) : made_at_(where) {
    Execution* execution = current_execution;
    if (execution == nullptr) {
        std::fputs("model::Thread made outside an execution (model::explore)\n", stderr);
        std::abort();
    }
    execution->step("spawns", where);
    id_ = execution->start(std::move(body));
}

Thread::~Thread() {
    if (!joined_) join(made_at_);  // the trace names the line that made the thread
}

void Thread::join(std::source_location where) {
    joined_ = true;
    Execution* execution = current_execution;
    const std::uint32_t id = id_;
    execution->step("join", where);
    execution->block_until([execution, id] { return execution->finished(id); },
                           "waits for a thread to return", where);
}

void step(const char* what, std::source_location where) noexcept {
    if (Execution* execution = current_execution) execution->step(what, where);
}

void block_until(const std::function<bool()>& ready, const char* what,
                 std::source_location where) noexcept {
    if (Execution* execution = current_execution) {
        execution->block_until(ready, what, where);
        return;
    }
    while (!ready()) std::this_thread::yield();
}

void check(bool condition, const char* message, std::source_location where) noexcept {
    if (condition) return;
    if (Execution* execution = current_execution) {
        execution->fail(std::string(message) + " (" + base_name(where.file_name()) + ":" +
                        std::to_string(where.line()) + ")");
    }
    std::fprintf(stderr, "model::check failed outside an execution: %s\n", message);
    std::abort();
}

std::uint32_t choose(std::uint32_t bound) noexcept {
    Execution* execution = current_execution;
    return execution != nullptr ? execution->below(bound) : 0;
}

bool in_execution() noexcept { return current_execution != nullptr; }

}  // namespace model
