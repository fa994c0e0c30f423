// The one main() of every doctest executable of the project, compiled once, with a watchdog:
// a test case still running after a generous limit (TEST_CASE_LIMIT_SECONDS, default 120) is a
// hang, and the watchdog names it and ends the process with a failure, instead of leaving the
// test runner to kill an executable without saying which case was stuck. A wait inside a test
// is bounded on its own (testing/eventually.hpp); the watchdog is the backstop for a hang
// inside the code under test, such as a poll that never returns (docs/contributing.md).
//
// A second listener writes the results as data for the tutor (`tutor check`), when the
// environment variable TUTOR_RESULTS names a file; without it, it does nothing. One JSON
// object a line, each written and flushed as it happens, so that a crash leaves what came
// before it. Format 1:
//   {"format":1,"event":"case","name":N,"file":F,"line":L}         a test case starts
//   {"event":"failure","case":N,"file":F,"line":L,"severity":"ERROR"|"FATAL ERROR"|"WARNING",
//    "expression":"CHECK( a == b )","values":"CHECK( 1 == 2 )","threw":T,"logged":[...]}
//   {"event":"exception","case":N,"text":T,"crash":B}                   the case threw, or crashed
//   {"event":"case_end","name":N,"failed":B,"assertions":A,"assertions_failed":F}
//   {"event":"summary","cases":C,"cases_failed":F,"assertions":A,"assertions_failed":AF}
// "values" is absent when doctest could not decompose the expression; "threw" holds the text
// of an unexpected exception; "logged" the INFO and CAPTURE messages in scope.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
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

/// The results as data, for the tutor (format above).
class ResultsFile : public doctest::IReporter {
public:
    explicit ResultsFile(const doctest::ContextOptions&) {
        if (const char* path = std::getenv("TUTOR_RESULTS"); path != nullptr && *path != '\0')
            out_ = std::fopen(path, "w");
    }
    ~ResultsFile() override {
        if (out_ != nullptr) std::fclose(out_);
    }
    ResultsFile(const ResultsFile&) = delete;
    ResultsFile& operator=(const ResultsFile&) = delete;

    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats& stats) override {
        write(
            "{\"event\":\"summary\",\"cases\":" + std::to_string(stats.numTestCasesPassingFilters) +
            ",\"cases_failed\":" + std::to_string(stats.numTestCasesFailed) +
            ",\"assertions\":" + std::to_string(stats.numAsserts) +
            ",\"assertions_failed\":" + std::to_string(stats.numAssertsFailed) + "}");
    }
    void test_case_start(const doctest::TestCaseData& data) override {
        name_ = data.m_name;
        write("{\"format\":1,\"event\":\"case\",\"name\":" + quoted(name_) + ",\"file\":" +
              quoted(data.m_file.c_str()) + ",\"line\":" + std::to_string(data.m_line) + "}");
    }
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        write("{\"event\":\"case_end\",\"name\":" + quoted(name_) +
              ",\"failed\":" + (stats.testCaseSuccess ? "false" : "true") +
              ",\"assertions\":" + std::to_string(stats.numAssertsCurrentTest) +
              ",\"assertions_failed\":" + std::to_string(stats.numAssertsFailedCurrentTest) + "}");
    }
    void test_case_exception(const doctest::TestCaseException& e) override {
        write("{\"event\":\"exception\",\"case\":" + quoted(name_) +
              ",\"text\":" + quoted(e.error_string.c_str()) +
              ",\"crash\":" + (e.is_crash ? "true" : "false") + "}");
    }
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData& a) override {
        if (out_ == nullptr || !a.m_failed) return;
        const bool is_require = (a.m_at & doctest::assertType::is_require) != 0;
        const bool is_warn = (a.m_at & doctest::assertType::is_warn) != 0;
        const std::string kind = doctest::assertString(a.m_at);
        std::string line = "{\"event\":\"failure\",\"case\":" + quoted(name_) +
                           ",\"file\":" + quoted(a.m_file) +
                           ",\"line\":" + std::to_string(a.m_line) + ",\"severity\":" +
                           quoted(is_require ? "FATAL ERROR"
                                  : is_warn  ? "WARNING"
                                             : "ERROR") +
                           ",\"expression\":" + quoted(kind + "( " + a.m_expr + " )");
        if (a.m_threw) {
            line += ",\"threw\":" + quoted(a.m_exception.c_str());
        } else if (a.m_decomp.size() > 0) {
            line += ",\"values\":" + quoted(kind + "( " + a.m_decomp.c_str() + " )");
        }
        line += ",\"logged\":" + logged() + "}";
        write(line);
    }
    void log_message(const doctest::MessageData& m) override {
        if (out_ == nullptr || (m.m_severity & doctest::assertType::is_warn) != 0) return;
        // FAIL_CHECK / FAIL: a failure with a message of its own.
        const bool is_require = (m.m_severity & doctest::assertType::is_require) != 0;
        write("{\"event\":\"failure\",\"case\":" + quoted(name_) + ",\"file\":" + quoted(m.m_file) +
              ",\"line\":" + std::to_string(m.m_line) +
              ",\"severity\":" + quoted(is_require ? "FATAL ERROR" : "ERROR") +
              ",\"expression\":" + quoted(m.m_string.c_str()) + ",\"logged\":" + logged() + "}");
    }
    void test_case_skipped(const doctest::TestCaseData&) override {}
    void report_query(const doctest::QueryData&) override {}

private:
    void write(const std::string& line) {
        if (out_ == nullptr) return;
        std::fputs(line.c_str(), out_);
        std::fputc('\n', out_);
        std::fflush(out_);
    }

    /// The INFO and CAPTURE messages in scope, as a JSON array.
    static std::string logged() {
        std::string array = "[";
        const int count = get_num_active_contexts();
        const doctest::IContextScope* const* contexts = get_active_contexts();
        for (int i = 0; i < count; ++i) {
            std::ostringstream text;
            contexts[i]->stringify(&text);
            array += (i == 0 ? "" : ",") + quoted(text.str());
        }
        return array + "]";
    }

    static std::string quoted(const std::string& text) {
        std::string out = "\"";
        for (const char c : text) {
            switch (c) {
                case '"':
                    out += "\\\"";
                    break;
                case '\\':
                    out += "\\\\";
                    break;
                case '\n':
                    out += "\\n";
                    break;
                case '\t':
                    out += "\\t";
                    break;
                case '\r':
                    out += "\\r";
                    break;
                default:
                    if (static_cast<unsigned char>(c) < 0x20) {
                        char escaped[8];
                        std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
                        out += escaped;
                    } else {
                        out += c;
                    }
            }
        }
        return out + "\"";
    }

    std::FILE* out_ = nullptr;
    std::string name_;  // the current test case
};

}  // namespace

REGISTER_LISTENER("watchdog", 1, Watchdog);
REGISTER_LISTENER("tutor-results", 2, ResultsFile);
