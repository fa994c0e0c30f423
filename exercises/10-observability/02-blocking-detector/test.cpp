// Tests of exercise 10-02, the specification of ex::BlockingDetector and ex::watched: a poll of a
// watched future that has run past the threshold is reported while it runs, with its task's
// name and how long it has run, and once, however many scans see it; each long poll is a report
// of its own; a poll that has ended, or has not yet run past the threshold, is never reported,
// also when it threw; each thread polls in a slot of its own; the watchdog thread finds a task
// that blocks a worker of rt::Runtime(2), and the only thread of rt::Runtime(0), while it
// blocks; the destructor stops the watchdog at once, however long its interval.
//
// Most cases need no thread at all: a future whose poll calls scan() is a poll that runs at the
// time the scan is told, and the test chooses that time. The cases with the watchdog do not
// depend on timing either: the task blocks until the test has seen its report, so a report
// that arrives at all arrived while the poll ran. Every wait is bounded by testing::patience(),
// and those cases first check, without waiting, that a scan reports a running poll at all, so
// that unfinished code fails at once instead of after the patience.
#include <doctest/doctest.h>

#include <blocking_detector.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/sleep.hpp"
#include "rt/yield_now.hpp"
#include "testing/eventually.hpp"
#include "testing/wakers.hpp"

using namespace std::chrono_literals;
using ex::Clock;

namespace {

/// The reports, as the detector hands them over on the thread that scans; read by the test.
/// Declared before the detector, which calls into it until it is destroyed.
class Collected {
public:
    ex::BlockingDetector::OnReport callback() {
        return [this](const ex::Report& report) {
            std::lock_guard lock(mutex_);
            reports_.push_back(report);
        };
    }
    std::vector<ex::Report> reports() const {
        std::lock_guard lock(mutex_);
        return reports_;
    }
    std::size_t of(const std::string& task) const {
        std::lock_guard lock(mutex_);
        std::size_t count = 0;
        for (const ex::Report& report : reports_) count += report.task == task ? 1 : 0;
        return count;
    }

private:
    mutable std::mutex mutex_;
    std::vector<ex::Report> reports_;
};

/// Options for a detector without a watchdog: only the test's calls of scan() look.
ex::DetectorOptions scanned_by_hand(std::chrono::nanoseconds threshold) {
    ex::DetectorOptions options;
    options.threshold = threshold;
    options.watchdog = false;
    return options;
}

/// A future whose every poll calls `during()`, the test's look at the detector while the poll
/// runs; ready at its `polls`-th poll, pending (and woken) before.
template <class During>
class RunsDuringPoll {
public:
    using Output = void;
    RunsDuringPoll(During during, int polls) : during_(std::move(during)), polls_left_(polls) {}
    rt::Poll<void> poll(rt::Context& cx) {
        during_();
        if (--polls_left_ == 0) return rt::ready;
        cx.waker().wake_by_ref();
        return rt::pending;
    }

private:
    During during_;
    int polls_left_;
};

template <class During>
RunsDuringPoll<During> during_poll(During during, int polls = 1) {
    return RunsDuringPoll<During>(std::move(during), polls);
}

/// A future that polls `inner` in its own poll, then calls `after()`; ready with `inner`.
template <class Inner, class After>
class PollsInner {
public:
    using Output = void;
    PollsInner(Inner inner, After after) : inner_(std::move(inner)), after_(std::move(after)) {}
    rt::Poll<void> poll(rt::Context& cx) {
        const bool ready = inner_.poll(cx).is_ready();
        after_();
        if (ready) return rt::ready;
        return rt::pending;
    }

private:
    Inner inner_;
    After after_;
};

/// Checked first by the cases that wait for the watchdog: a scan reports a poll that has run
/// past the threshold. Without it, those cases would wait out the patience for a report that
/// cannot come.
void require_a_scan_reports_a_running_poll() {
    ex::BlockingDetector detector(scanned_by_hand(1ms));
    std::size_t made = 0;
    auto future = ex::watched(detector, "probe",
                              during_poll([&] { made = detector.scan(Clock::now() + 1h); }));
    (void)testing::poll_once(future);
    REQUIRE_MESSAGE(made == 1,
                    "scan() does not report a poll that has run past the threshold: the first "
                    "test cases show why (begin, end and scan come first)");
}

/// A poll that blocks its thread, wrongly and on purpose, until the test releases it, or gives
/// up after the test's patience (the test has failed then, and must still end).
struct Blocker {
    std::array<std::atomic<bool>, 2> released{};
    std::atomic<bool> gave_up{false};

    void block(std::size_t poll) {
        const auto give_up = Clock::now() + testing::patience();
        while (!released[poll].load()) {
            if (Clock::now() >= give_up) {
                gave_up.store(true);
                return;
            }
            std::this_thread::sleep_for(1ms);
        }
    }
    void release_all() {
        for (std::atomic<bool>& flag : released) flag.store(true);
    }
};

/// What the releaser thread saw, for the test thread to check once it is joined.
struct Seen {
    bool first_report = false;     // a report came while the first poll blocked
    bool five_more_scans = false;  // the watchdog scanned five times more, the poll still on
    std::size_t after_scans = 0;   // the blocker's reports after those five scans
    bool second_report = false;    // a report came while the second poll blocked
    std::size_t after_second = 0;  // the blocker's reports once the second one came
};

/// The releaser: waits for the report of each blocked poll, and only then releases the poll.
Seen release_after_reports(const ex::BlockingDetector& detector, const Collected& collected,
                           Blocker& blocker) {
    Seen seen;
    seen.first_report = testing::eventually([&] { return collected.of("blocker") >= 1; });
    if (!seen.first_report) {
        blocker.release_all();
        return seen;
    }
    const std::uint64_t scans = detector.scans();
    seen.five_more_scans = testing::eventually([&] { return detector.scans() >= scans + 5; });
    seen.after_scans = collected.of("blocker");
    blocker.released[0].store(true);
    seen.second_report = testing::eventually([&] { return collected.of("blocker") >= 2; });
    seen.after_second = collected.of("blocker");
    blocker.release_all();
    return seen;
}

/// Many polls, each short: yields, and now and then a sleep of a millisecond.
rt::Task<void> healthy(int turns) {
    for (int turn = 0; turn < turns; ++turn) {
        co_await rt::yield_now();
        if (turn % 5 == 0) co_await rt::sleep(1ms);
    }
}

/// Runs `work` on a thread of its own; true if it ended within the test's patience. If not,
/// the thread is left behind, detached (the test has failed, and the process ends with it), for
/// a join would wait as long as the work does.
template <class Work>
bool ends_within_patience(Work work) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread worker([work = std::move(work), done]() mutable {
        work();
        done->store(true);
    });
    if (testing::eventually([&] { return done->load(); })) {
        worker.join();
        return true;
    }
    worker.detach();
    return false;
}

}  // namespace

TEST_SUITE("blocking detector: scans by hand") {
    TEST_CASE("a poll that has run past the threshold is reported while it runs, with its task") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(50ms), collected.callback());
        std::size_t made_during = 0;
        Clock::time_point inside;
        auto future = ex::watched(detector, "sleeper", during_poll([&] {
                                      inside = Clock::now();  // the poll began before this
                                      made_during = detector.scan(inside + 50ms + 1ns);
                                  }));
        const Clock::time_point before = Clock::now();  // and after this
        REQUIRE(testing::poll_once(future).is_ready());

        CHECK(made_during == 1);
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].task == "sleeper");
        CHECK(reports[0].slot == 0);  // the first thread to poll for this detector
        CHECK(reports[0].running > 50ms);
        // Measured from the poll's start: no earlier than `before`.
        CHECK(reports[0].running <= (inside - before) + 50ms + 1ns);
        CHECK(detector.reports() == 1);
        CHECK(detector.scans() == 1);
    }

    TEST_CASE("a poll is not reported before it has run longer than the threshold") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(50ms), collected.callback());
        std::size_t at_threshold = 0;
        std::size_t past_threshold = 0;
        Clock::time_point before;
        auto future = ex::watched(detector, "sleeper", during_poll([&] {
                                      // The poll began at `before` or later: it has run for
                                      // the threshold at most.
                                      at_threshold = detector.scan(before + 50ms);
                                      past_threshold = detector.scan(Clock::now() + 50ms + 1ns);
                                  }));
        before = Clock::now();
        REQUIRE(testing::poll_once(future).is_ready());
        CHECK(at_threshold == 0);
        CHECK(past_threshold == 1);
        CHECK(collected.reports().size() == 1);
    }

    TEST_CASE("a poll that runs on is reported once, however many scans see it") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::size_t made = 0;
        Clock::time_point inside;
        auto future = ex::watched(detector, "endless", during_poll([&] {
                                      inside = Clock::now();
                                      for (int scan = 1; scan <= 10; ++scan) {
                                          made += detector.scan(inside + scan * 10ms + 1ns);
                                      }
                                  }));
        const Clock::time_point before = Clock::now();
        REQUIRE(testing::poll_once(future).is_ready());
        CHECK(made == 1);
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].task == "endless");
        CHECK(reports[0].running > 10ms);
        // The first scan past the threshold reported it, not a later one.
        CHECK(reports[0].running <= (inside - before) + 10ms + 1ns);
        CHECK(detector.scans() == 10);
    }

    TEST_CASE("each long poll is a report of its own, of the same task or of another") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::vector<std::size_t> made;
        const auto scan_twice = [&] {
            const Clock::time_point now = Clock::now();
            made.push_back(detector.scan(now + 10ms + 1ns) + detector.scan(now + 1h));
        };
        auto twice = ex::watched(detector, "twice", during_poll(scan_twice, 2));
        auto other = ex::watched(detector, "other", during_poll(scan_twice));
        REQUIRE(testing::poll_once(twice).is_pending());
        REQUIRE(testing::poll_once(twice).is_ready());
        REQUIRE(testing::poll_once(other).is_ready());

        CHECK(made == std::vector<std::size_t>{1, 1, 1});
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 3);
        CHECK(reports[0].task == "twice");
        CHECK(reports[1].task == "twice");
        CHECK(reports[2].task == "other");
        for (const ex::Report& report : reports) CHECK(report.slot == 0);  // one thread
    }

    TEST_CASE("a poll that has ended is never reported, however late the scan") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::vector<std::size_t> during;
        auto future = ex::watched(
            detector, "short",
            during_poll([&] { during.push_back(detector.scan(Clock::now() + 1h)); }, 3));
        for (int poll = 0; poll < 3; ++poll) {
            (void)testing::poll_once(future);
            // Between two polls nothing runs: a scan a day later finds nothing.
            CHECK(detector.scan(Clock::now() + 24h) == 0);
        }
        CHECK(during == std::vector<std::size_t>{1, 1, 1});  // each poll was seen while it ran
        CHECK(collected.reports().size() == 3);
    }

    TEST_CASE("a poll that throws has ended all the same") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::size_t during = 0;
        auto future = ex::watched(detector, "thrower", during_poll([&] {
                                      during = detector.scan(Clock::now() + 1h);
                                      throw std::runtime_error("the poll failed");
                                  }));
        CHECK_THROWS_AS((void)testing::poll_once(future), std::runtime_error);
        CHECK(during == 1);
        CHECK(detector.scan(Clock::now() + 24h) == 0);
        CHECK(collected.reports().size() == 1);
    }

    TEST_CASE("a watched future polled inside a watched poll is covered by the outer poll") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::size_t inner_made = 0;
        std::size_t after_inner = 0;
        auto inner = ex::watched(
            detector, "inner", during_poll([&] { inner_made = detector.scan(Clock::now() + 1h); }));
        // After the inner poll returns, the outer one still runs, and still shows.
        auto outer = ex::watched(detector, "outer", PollsInner(std::move(inner), [&] {
                                     after_inner = detector.scan(Clock::now() + 2h);
                                 }));
        REQUIRE(testing::poll_once(outer).is_ready());
        CHECK(inner_made == 1);
        CHECK(after_inner == 0);  // the same poll: reported once
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].task == "outer");
        CHECK(detector.scan(Clock::now() + 24h) == 0);
    }

    TEST_CASE("each thread polls in a slot of its own") {
        Collected collected;
        ex::BlockingDetector detector(scanned_by_hand(10ms), collected.callback());
        std::atomic<int> inside{0};
        std::atomic<bool> release{false};
        const auto hold = [&] {
            inside.fetch_add(1);
            const auto give_up = Clock::now() + testing::patience();
            while (!release.load() && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
        };
        std::vector<std::thread> pollers;
        for (const char* name : {"first", "second"}) {
            pollers.emplace_back([&detector, &hold, name] {
                auto future = ex::watched(detector, name, during_poll(hold));
                (void)testing::poll_once(future);
            });
        }
        const bool both_inside = testing::eventually([&] { return inside.load() == 2; });
        const std::size_t made = both_inside ? detector.scan(Clock::now() + 1h) : 0;
        release.store(true);
        for (std::thread& poller : pollers) poller.join();

        REQUIRE_MESSAGE(both_inside, "the two threads never both entered their polls");
        CHECK(made == 2);
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 2);
        CHECK(reports[0].slot != reports[1].slot);
        CHECK(reports[0].slot < 2);
        CHECK(reports[1].slot < 2);
        CHECK(collected.of("first") == 1);
        CHECK(collected.of("second") == 1);
        CHECK(detector.scan(Clock::now() + 24h) == 0);  // both polls have ended
    }

    TEST_CASE("a thread that finds no free slot is not watched, and is counted") {
        Collected collected;
        ex::DetectorOptions options = scanned_by_hand(10ms);
        options.slots = 1;
        ex::BlockingDetector detector(options, collected.callback());
        std::thread([&detector] {  // takes the only slot
            auto future = ex::watched(detector, "first", during_poll([] {}));
            (void)testing::poll_once(future);
        })
            .join();
        std::size_t made = 0;
        auto future = ex::watched(detector, "second",
                                  during_poll([&] { made = detector.scan(Clock::now() + 1h); }));
        (void)testing::poll_once(future);
        CHECK(made == 0);
        CHECK(detector.unwatched_threads() == 1);
        CHECK(collected.reports().empty());
    }

    TEST_CASE("a detector made where a destroyed one was has slots of its own") {
        std::optional<ex::BlockingDetector> detector;
        detector.emplace(scanned_by_hand(10ms));
        auto first = ex::watched(*detector, "first", during_poll([] {}));
        (void)testing::poll_once(first);  // this thread takes a slot in the first detector
        detector.reset();

        Collected collected;
        detector.emplace(scanned_by_hand(10ms), collected.callback());  // at the same address
        std::size_t made = 0;
        auto second = ex::watched(*detector, "second",
                                  during_poll([&] { made = detector->scan(Clock::now() + 1h); }));
        (void)testing::poll_once(second);
        CHECK(made == 1);
        const std::vector<ex::Report> reports = collected.reports();
        REQUIRE(reports.size() == 1);
        CHECK(reports[0].task == "second");
        CHECK(reports[0].slot == 0);
        detector.reset();  // before `collected`, which it calls into
    }

    TEST_CASE("a detector needs a positive threshold and interval, and a slot") {
        ex::DetectorOptions no_threshold = scanned_by_hand(0ns);
        CHECK_THROWS_AS(ex::BlockingDetector{no_threshold}, std::invalid_argument);
        ex::DetectorOptions no_interval = scanned_by_hand(1ms);
        no_interval.interval = 0ns;
        CHECK_THROWS_AS(ex::BlockingDetector{no_interval}, std::invalid_argument);
        ex::DetectorOptions no_slots = scanned_by_hand(1ms);
        no_slots.slots = 0;
        CHECK_THROWS_AS(ex::BlockingDetector{no_slots}, std::invalid_argument);
    }
}

TEST_SUITE("blocking detector: the watchdog") {
    TEST_CASE("the watchdog reports a task that blocks its worker while it blocks, once a poll") {
        require_a_scan_reports_a_running_poll();
        for (const std::size_t workers : {std::size_t{2}, std::size_t{0}}) {
            CAPTURE(workers);
            Collected collected;
            ex::DetectorOptions options;
            options.threshold = 10ms;
            options.interval = 1ms;
            Seen seen;
            Blocker blocker;
            {
                ex::BlockingDetector detector(options, collected.callback());
                // With 0 workers the blocked poll blocks this very thread (block_on runs the
                // task here): the releaser must be another thread.
                std::jthread releaser(
                    [&] { seen = release_after_reports(detector, collected, blocker); });
                rt::Runtime runtime(workers);
                runtime.block_on(ex::watched(detector, "blocker", [&blocker]() -> rt::Task<void> {
                    blocker.block(0);  // one poll, blocked until its report is seen
                    co_await rt::yield_now();
                    blocker.block(1);  // the next poll, a long one too
                }));
                releaser.join();
            }
            CHECK_MESSAGE(seen.first_report, "no report came while the task blocked its thread");
            CHECK_MESSAGE(seen.five_more_scans, "the watchdog stopped scanning");
            CHECK_MESSAGE(seen.after_scans == 1,
                          "five more scans of the same poll made more reports of it");
            CHECK_MESSAGE(seen.second_report, "the second long poll was not reported");
            CHECK(seen.after_second == 2);
            CHECK_FALSE(blocker.gave_up.load());
            const std::vector<ex::Report> reports = collected.reports();
            CHECK(reports.size() == 2);
            for (const ex::Report& report : reports) {
                CHECK(report.task == "blocker");
                CHECK(report.running >= options.threshold);
                CHECK(report.slot < options.slots);
            }
        }
    }

    TEST_CASE("healthy tasks are never reported") {
        require_a_scan_reports_a_running_poll();
        for (const std::size_t workers : {std::size_t{2}, std::size_t{0}}) {
            CAPTURE(workers);
            Collected collected;
            ex::DetectorOptions options;
            options.threshold = 1h;  // no poll of a healthy task comes close, on any machine
            options.interval = 1ms;
            ex::BlockingDetector detector(options, collected.callback());
            {
                rt::Runtime runtime(workers);
                const int answer =
                    runtime.block_on(ex::watched(detector, "main", [&detector]() -> rt::Task<int> {
                        std::vector<rt::JoinHandle<void>> tasks;
                        for (int i = 0; i < 16; ++i) {
                            tasks.push_back(rt::spawn(ex::watched(
                                detector, "healthy " + std::to_string(i % 4), healthy(20))));
                        }
                        for (rt::JoinHandle<void>& task : tasks) co_await task;
                        co_return 42;
                    }));
                CHECK(answer == 42);  // a watched future's output is its future's
            }
            // Every poll has ended: even a scan a day from now finds none running.
            CHECK(detector.scan(Clock::now() + 24h) == 0);
            CHECK(collected.reports().empty());
            CHECK(detector.reports() == 0);
        }
    }

    TEST_CASE("the watchdog scans every interval, and stops at once when the detector goes") {
        ex::DetectorOptions frequent;
        frequent.interval = 1ms;
        auto scanning = std::make_unique<ex::BlockingDetector>(frequent);
        const ex::BlockingDetector& detector = *scanning;
        CHECK_MESSAGE(testing::eventually([&] { return detector.scans() >= 3; }),
                      "the watchdog does not scan every interval");
        CHECK_MESSAGE(ends_within_patience([owned = std::move(scanning)]() mutable {
                          owned.reset();  // the destructor, on another thread
                      }),
                      "the destructor did not return: the watchdog did not stop");

        // The stop must not wait for the end of the interval. Twenty detectors, each destroyed
        // as soon as made: the stop then often comes before the watchdog has begun to wait, and
        // must not be lost then either.
        ex::DetectorOptions hourly;
        hourly.interval = 1h;
        bool stopped = true;
        for (int round = 0; round < 20 && stopped; ++round) {
            stopped = ends_within_patience([hourly] { ex::BlockingDetector detector(hourly); });
        }
        CHECK_MESSAGE(stopped,
                      "the destructor waited for the watchdog's interval (an hour) to end: the "
                      "stop must wake the watchdog's wait, also one that begins after the stop");
    }
}
