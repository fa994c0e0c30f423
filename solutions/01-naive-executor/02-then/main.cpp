// Exercise 01-02's program: a pipeline of then() steps run on chapter 1's executor, each step
// one move of the Collatz sequence after a short wait. The trace shows every state transition
// and the poll it happened in: a finished step hands over to the next one within a single poll.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <then.hpp>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Value = std::uint64_t;

/// Where the trace lines come from: which poll of the pipeline is running, and since when.
struct Trace {
    Clock::time_point start = Clock::now();
    std::uint64_t poll = 0;     // polls of the whole pipeline so far; the current one is `poll`
    std::vector<Value> values;  // every value the pipeline produced, in order

    void line(const std::string& message) const {
        const double t = std::chrono::duration<double>(Clock::now() - start).count();
        std::printf("[poll %9s, %6.3f s] %s\n", support::with_commas(poll).c_str(), t,
                    message.c_str());
    }
};

/// One step's work: waits `delay`, then is ready with `value`. Lazy, like every future: the
/// wait starts at its first poll, not when it is made.
class Delayed {
public:
    using Output = Value;

    Delayed(int step, Value value, Clock::duration delay, std::shared_ptr<Trace> trace)
        : step_(step), value_(value), delay_(delay), trace_(std::move(trace)) {}

    rt::Poll<Value> poll(rt::Context& cx) {
        if (!sleep_) {
            trace_->line(name() + "'s first poll, starts its wait");
            sleep_.emplace(rt::sleep(delay_));
        }
        if (sleep_->poll(cx).is_pending()) return rt::pending;
        trace_->line(name() + " ready with " + std::to_string(value_) +
                     (step_ == 0 ? "" : ": Second -> Done"));
        trace_->values.push_back(value_);
        return value_;
    }

private:
    // Step 0 is the pipeline's source; every later step's Delayed is the b of a then().
    std::string name() const { return "step " + std::to_string(step_) + (step_ == 0 ? "" : ": b"); }

    int step_;
    Value value_;
    Clock::duration delay_;
    std::shared_ptr<Trace> trace_;
    std::optional<rt::Sleep> sleep_;  // empty until the first poll
};

/// f of step `step`: given the previous value, makes the future b of the next Collatz value.
/// Calling it is the First -> Second transition of that step's then().
struct CollatzStep {
    int step;
    Clock::duration delay;
    std::shared_ptr<Trace> trace;

    Delayed operator()(Value x) const {
        const Value next = x % 2 == 0 ? x / 2 : 3 * x + 1;
        trace->line("step " + std::to_string(step) + ": a ready with " + std::to_string(x) +
                    ": First -> Second, f called, b will give " + std::to_string(next));
        return Delayed(step, next, delay, trace);
    }
};

/// A boxed future used as a future. A pipeline whose length is chosen at run time cannot
/// spell its type (then(then(then(a, f), g), h) nests one level per step), so each step is
/// boxed behind DynFuture and the next then() wraps the box.
template <class T>
class Boxed {
public:
    using Output = T;
    explicit Boxed(rt::BoxFuture<T> inner) : inner_(std::move(inner)) {}
    rt::Poll<T> poll(rt::Context& cx) { return inner_->poll(cx); }

private:
    rt::BoxFuture<T> inner_;
};

/// The task the executor runs: counts the polls of the pipeline for the trace, and hands the
/// pipeline's output to main through `result`.
class RunPipeline {
public:
    using Output = void;

    RunPipeline(Boxed<Value> pipeline, std::shared_ptr<Trace> trace,
                std::shared_ptr<std::optional<Value>> result)
        : pipeline_(std::move(pipeline)), trace_(std::move(trace)), result_(std::move(result)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++trace_->poll;
        rt::Poll<Value> polled = pipeline_.poll(cx);
        if (polled.is_pending()) return rt::pending;
        result_->emplace(polled.value());
        return rt::ready;
    }

private:
    Boxed<Value> pipeline_;
    std::shared_ptr<Trace> trace_;
    std::shared_ptr<std::optional<Value>> result_;
};

}  // namespace

int main(int argc, char** argv) {
    Value start = 27;
    int steps = 6;
    int delay_ms = 40;

    CLI::App app{
        "Exercise 01-02: then(a, f). Runs a pipeline of --steps then() steps on chapter 1's "
        "executor: step 0 yields --start after --delay-ms, and every further step takes the "
        "previous value x and, after --delay-ms, yields the next Collatz value (x / 2 if x is "
        "even, 3x + 1 if odd). Prints every state transition with the poll it happened in.",
        "solution-01-02"};
    app.add_option("-n,--start", start, "the value step 0 yields")
        ->check(CLI::Range(1, 1000000))
        ->capture_default_str();
    app.add_option("-s,--steps", steps, "then() steps after step 0")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("-d,--delay-ms", delay_ms, "how long each step waits, in milliseconds")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    auto trace = std::make_shared<Trace>();
    const auto delay = std::chrono::milliseconds(delay_ms);

    // Nothing runs while the pipeline is built: futures only make progress when polled.
    Boxed<Value> pipeline(rt::box_future(Delayed(0, start, delay, trace)));
    for (int step = 1; step <= steps; ++step) {
        pipeline = Boxed<Value>(
            rt::box_future(rt::then(std::move(pipeline), CollatzStep{step, delay, trace})));
    }
    std::printf("Built a pipeline of %d then() steps around step 0; nothing has run yet.\n\n",
                steps);

    auto result = std::make_shared<std::optional<Value>>();
    rt::Executor executor;
    executor.spawn(RunPipeline(std::move(pipeline), trace, result));
    const rt::RunStats stats = executor.run();

    if (!result->has_value()) {
        std::fprintf(stderr, "the pipeline finished without a result: a bug\n");
        return 1;
    }
    std::printf("\nThe pipeline's output: %llu. Values in order:",
                static_cast<unsigned long long>(**result));
    for (Value v : trace->values) std::printf(" %llu", static_cast<unsigned long long>(v));
    std::printf(
        "\nThe pipeline was polled %s times (executor: %s polls). Each step's First -> Second and\n"
        "its b's first poll happen in the very poll in which the step before it finished: then()\n"
        "never returns pending when it can go on.\n",
        support::with_commas(trace->poll).c_str(), support::with_commas(stats.polls).c_str());
    return 0;
}
