// Exercise 01-01's program: JOBS jobs of different lengths joined with join_all and run as one
// task on chapter 1's executor. Jobs finish in reverse order; join_all hands their reports back
// in input order. Polls are counted, per job and in all.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <join_all.hpp>

#include "rt/executor.hpp"
#include "rt/sleep.hpp"
#include "support/cli.hpp"
#include "support/format.hpp"

namespace {

using Clock = std::chrono::steady_clock;

/// What a job hands back when it is done.
struct Report {
    int id;
    int finished_as;       // 1 for the first job to finish, 2 for the second...
    double finished_at_s;  // seconds since the start
    std::uint64_t polls;   // how often the job was polled
};

/// A job: waits `length` (a sleep, which in this chapter can only look at the clock), then is
/// ready with a report. Its poll count shows join_all giving it a turn at every poll.
class Job {
public:
    using Output = Report;

    Job(int id, Clock::duration length, Clock::time_point start, std::shared_ptr<int> finished)
        : id_(id),
          sleep_(rt::sleep_until(start + length)),
          start_(start),
          finished_(std::move(finished)) {}

    rt::Poll<Report> poll(rt::Context& cx) {
        ++polls_;
        if (sleep_.poll(cx).is_pending()) return rt::pending;
        const double at = std::chrono::duration<double>(Clock::now() - start_).count();
        const int order = ++*finished_;
        std::printf("[%6.3f s] job %d finished (#%d to finish), after %llu polls\n", at, id_, order,
                    static_cast<unsigned long long>(polls_));
        return Report{id_, order, at, polls_};
    }

private:
    int id_;
    rt::Sleep sleep_;
    Clock::time_point start_;
    std::shared_ptr<int> finished_;  // how many jobs have finished, shared by all the jobs
    std::uint64_t polls_ = 0;
};

/// The one task the executor runs: polls the join_all and hands its output to main through
/// `result` (a spawned task's own output is void). Counts its polls, which are join_all's.
class Gather {
public:
    using Output = void;

    Gather(rt::JoinAll<Job> joined, std::shared_ptr<std::optional<std::vector<Report>>> result,
           std::shared_ptr<std::uint64_t> polls)
        : joined_(std::move(joined)), result_(std::move(result)), polls_(std::move(polls)) {}

    rt::Poll<void> poll(rt::Context& cx) {
        ++*polls_;
        rt::Poll<std::vector<Report>> polled = joined_.poll(cx);
        if (polled.is_pending()) return rt::pending;
        result_->emplace(std::move(polled).value());
        return rt::ready;
    }

private:
    rt::JoinAll<Job> joined_;
    std::shared_ptr<std::optional<std::vector<Report>>> result_;
    std::shared_ptr<std::uint64_t> polls_;
};

}  // namespace

int main(int argc, char** argv) {
    int jobs = 5;
    int longest_ms = 500;

    CLI::App app{
        "Exercise 01-01: join_all. Runs --jobs jobs joined with join_all, as one task on chapter "
        "1's "
        "executor. Job i of n waits --longest-ms * (n - i) / n ms, so the last job finishes first; "
        "join_all still hands the reports back in input order. Shows the polls each job took.",
        "solution-01-01"};
    app.add_option("-j,--jobs", jobs, "number of jobs to join")
        ->check(CLI::Range(0, 1000))
        ->capture_default_str();
    app.add_option("-l,--longest-ms", longest_ms,
                   "how long the longest job (job 0) waits, in milliseconds")
        ->check(CLI::Range(0, 10000))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    const Clock::time_point start = Clock::now();
    auto finished = std::make_shared<int>(0);
    std::vector<Job> children;
    children.reserve(static_cast<std::size_t>(jobs));
    for (int i = 0; i < jobs; ++i) {
        auto length = std::chrono::milliseconds(longest_ms) * (jobs - i) / jobs;
        std::printf("job %d waits %lld ms\n", i,
                    static_cast<long long>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(length).count()));
        children.emplace_back(i, length, start, finished);
    }
    std::printf("\n");

    auto result = std::make_shared<std::optional<std::vector<Report>>>();
    auto join_all_polls = std::make_shared<std::uint64_t>(0);
    rt::Executor executor;
    executor.spawn(Gather(rt::join_all(std::move(children)), result, join_all_polls));
    const rt::RunStats stats = executor.run();

    if (!result->has_value()) {
        std::fprintf(stderr, "join_all finished without a result: a bug\n");
        return 1;
    }
    std::printf("\njoin_all's output, in input order:\n%-5s %12s %12s %14s\n", "job", "finished as",
                "at (s)", "polls");
    for (const Report& report : **result) {
        std::printf("%-5d %12d %12.3f %14s\n", report.id, report.finished_as, report.finished_at_s,
                    support::with_commas(report.polls).c_str());
    }
    std::printf(
        "\njoin_all was polled %s times (executor: %s polls, %s task completed).\n"
        "Every poll of join_all gave each unfinished job one turn: a job's poll count is the "
        "number\n"
        "of join_all polls up to the one it finished in, and no job was polled after it "
        "finished.\n",
        support::with_commas(*join_all_polls).c_str(), support::with_commas(stats.polls).c_str(),
        support::with_commas(stats.completed).c_str());
    return 0;
}
