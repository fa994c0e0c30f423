// The one main() of every doctest executable of the project, compiled once, with a watchdog:
// a test case still running after a generous limit (TEST_CASE_LIMIT_SECONDS, default 120) is a
// hang, and the watchdog names it and ends the process with a failure, instead of leaving the
// test runner to kill an executable without saying which case was stuck. A wait inside a test
// is bounded on its own (testing/eventually.hpp); the watchdog is the backstop for a hang
// inside the code under test, such as a poll that never returns (docs/contributing.md).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

namespace {

class Watchdog : public doctest::IReporter {
public:
    explicit Watchdog(const doctest::ContextOptions&) {}
    ~Watchdog() override { stop(); }

    void test_run_start() override {
        if (!thread_.joinable()) thread_ = std::thread([this] { watch(); });
    }
    void test_run_end(const doctest::TestRunStats&) override { stop(); }
    void test_case_start(const doctest::TestCaseData& data) override {
        {
            std::lock_guard lock(mutex_);
            name_ = data.m_name;
            ++generation_;
            running_ = true;
            deadline_ = std::chrono::steady_clock::now() + limit();
        }
        changed_.notify_one();
    }
    void test_case_reenter(const doctest::TestCaseData&) override {}  // subcases: same case
    void test_case_end(const doctest::CurrentTestCaseStats&) override {
        std::lock_guard lock(mutex_);
        running_ = false;
    }
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}
    void report_query(const doctest::QueryData&) override {}

private:
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

    static std::chrono::seconds limit() {
        if (const char* text = std::getenv("TEST_CASE_LIMIT_SECONDS")) {
            const long seconds = std::strtol(text, nullptr, 10);
            if (seconds > 0) return std::chrono::seconds(seconds);
        }
        return std::chrono::seconds(120);
    }

    void watch() {
        std::unique_lock lock(mutex_);
        while (!stopping_) {
            if (!running_) {
                changed_.wait(lock);
                continue;
            }
            const auto generation = generation_;
            if (changed_.wait_until(lock, deadline_) == std::cv_status::timeout && running_ &&
                generation == generation_ && !stopping_) {
                std::fprintf(stderr,
                             "\nwatchdog: the test case \"%s\" is still running after %lld s: "
                             "it hangs (a wait without a bound, or code under test that never "
                             "returns). Stopping the process.\n",
                             name_.c_str(), static_cast<long long>(limit().count()));
                std::fflush(stderr);
                std::_Exit(3);
            }
        }
    }

    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::string name_;                                // guarded by mutex_
    unsigned long generation_ = 0;                    // guarded by mutex_; one per test case
    bool running_ = false;                            // guarded by mutex_
    bool stopping_ = false;                           // guarded by mutex_
    std::chrono::steady_clock::time_point deadline_;  // guarded by mutex_
};

}  // namespace

REGISTER_LISTENER("watchdog", 1, Watchdog);
