// Tests of chapter 10's live console (console/): a frame shows the workers, the busiest tasks
// first and the warnings (view.hpp, without a terminal); and `demo --console` run in a
// pseudo-terminal, as a user runs it, draws frames, quits on q and on Ctrl-C with exit code 0,
// and leaves the terminal as it found it: the shell's screen back, the cursor shown, canonical
// mode and echo on. Without a terminal, --console is a usage error.
//
// The demo's path comes from meson (DEMO_PATH). Every wait for the child is bounded by the
// tests' patience and fails with what the terminal showed so far.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>

#include "console/view.hpp"
#include "testing/eventually.hpp"

namespace {

rt::TaskSnapshot task(std::uint64_t id, const char* name, std::int64_t busy_ns) {
    rt::TaskSnapshot snapshot;
    snapshot.id = id;
    snapshot.name = name;
    snapshot.busy_ns = busy_ns;
    snapshot.polls = 10;
    return snapshot;
}

/// The demo running in a pseudo-terminal: what it wrote, and a way to type to it.
class InTerminal {
public:
    explicit InTerminal(const char* const* args) {
        winsize size{};
        size.ws_row = 40;
        size.ws_col = 120;
        pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
        REQUIRE_MESSAGE(pid_ >= 0, "forkpty: " << std::strerror(errno));
        if (pid_ == 0) {
            ::execv(args[0], const_cast<char* const*>(args));
            ::_exit(127);
        }
    }
    InTerminal(const InTerminal&) = delete;
    InTerminal& operator=(const InTerminal&) = delete;
    ~InTerminal() {
        if (pid_ > 0 && !status_) {  // a test that failed halfway: do not leave the child behind
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(master_);
    }

    /// Read what the child wrote until `text` appears; false if it does not within patience.
    bool read_until(const std::string& text) {
        const auto give_up = std::chrono::steady_clock::now() + testing::patience();
        while (output_.find(text, searched_from_) == std::string::npos) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                give_up - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd ready{master_, POLLIN, 0};
            if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) continue;
            char chunk[4096];
            const ssize_t got = ::read(master_, chunk, sizeof chunk);
            if (got <= 0) return output_.find(text, searched_from_) != std::string::npos;
            output_.append(chunk, static_cast<std::size_t>(got));
        }
        searched_from_ = output_.find(text, searched_from_) + text.size();
        return true;
    }

    void type(const char* keys) {
        REQUIRE(::write(master_, keys, std::strlen(keys)) ==
                static_cast<ssize_t>(std::strlen(keys)));
    }

    /// The child's exit status, once it has exited; nullopt if it has not within patience.
    /// Reads (and keeps) what it writes meanwhile, so that it never blocks on a full terminal.
    std::optional<int> wait_exit() {
        const auto give_up = std::chrono::steady_clock::now() + testing::patience();
        while (!status_) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                status_ = status;
                break;
            }
            if (std::chrono::steady_clock::now() >= give_up) return std::nullopt;
            pollfd ready{master_, POLLIN, 0};
            if (::poll(&ready, 1, 10) > 0) {
                char chunk[4096];
                const ssize_t got = ::read(master_, chunk, sizeof chunk);
                if (got > 0) output_.append(chunk, static_cast<std::size_t>(got));
            }
        }
        return status_;
    }

    /// The terminal's settings now (those the child left, once it has exited).
    termios settings() const {
        termios now{};
        ::tcgetattr(master_, &now);
        return now;
    }

    const std::string& output() const noexcept { return output_; }

private:
    int master_ = -1;
    pid_t pid_ = -1;
    std::string output_;
    std::size_t searched_from_ = 0;
    std::optional<int> status_;
};

void check_restored(const InTerminal& terminal) {
    const std::string& out = terminal.output();
    const std::size_t entered = out.find("\x1b[?1049h");
    const std::size_t left = out.rfind("\x1b[?1049l");
    CHECK_MESSAGE(entered != std::string::npos, "the console never switched to its own screen");
    CHECK_MESSAGE((left != std::string::npos && left > entered),
                  "the console did not give the shell's screen back");
    CHECK_MESSAGE(out.rfind("\x1b[?25h") != std::string::npos, "the cursor was left hidden");
    const termios after = terminal.settings();
    CHECK_MESSAGE((after.c_lflag & ICANON) != 0, "canonical mode was left off");
    CHECK_MESSAGE((after.c_lflag & ECHO) != 0, "echo was left off");
    CHECK_MESSAGE((after.c_lflag & ISIG) != 0, "Ctrl-C was left without its signal");
}

}  // namespace

TEST_CASE("a console frame shows every worker, the busiest task first, and the warnings") {
    rt::MetricsSnapshot before;
    before.uptime_ns = 1'000'000'000;
    before.workers = 2;
    before.worker_stats.resize(2);
    before.tasks_recorded = true;
    before.tasks = {task(1, "idle one", 0), task(2, "busy one", 0)};
    rt::MetricsSnapshot now = before;
    now.uptime_ns = 2'000'000'000;  // one second later
    now.worker_stats[0].polls = 1'500;
    now.worker_stats[1].busy_ns = 500'000'000;
    now.tasks = {task(1, "idle one", 1'000), task(2, "busy one", 300'000'000)};
    now.warning_counts[static_cast<int>(rt::WarningKind::blocking_poll)] = 1;
    now.warnings.push_back({rt::WarningKind::blocking_poll, 2, "busy one", 20'000'000,
                            "task 2 (busy one) blocked its worker"});
    const std::string frame = console::render(now, &before);
    CHECK(frame.find("2 workers") != std::string::npos);
    CHECK(frame.find("1,500") != std::string::npos);  // worker 0's polls in that second
    CHECK(frame.find("50%") != std::string::npos);    // worker 1 was busy half of it
    const std::size_t busy = frame.find("2 busy one");
    const std::size_t idle = frame.find("1 idle one");
    REQUIRE(busy != std::string::npos);
    REQUIRE(idle != std::string::npos);
    CHECK(busy < idle);  // sorted by time busy in the interval
    CHECK(frame.find("blocking polls 1") != std::string::npos);
    CHECK(frame.find("task 2 (busy one) blocked its worker") != std::string::npos);
    CHECK(frame.find("q or Ctrl-C quits") != std::string::npos);
}

TEST_CASE("demo --console draws frames in a terminal, quits on q, and restores the terminal") {
    const char* const args[] = {DEMO_PATH, "--console", "--refresh", "100", nullptr};
    InTerminal terminal(args);
    REQUIRE_MESSAGE(terminal.read_until("WORKER"), "no frame was drawn: " << terminal.output());
    REQUIRE_MESSAGE(terminal.read_until("WORKER"),
                    "the frame was not redrawn: " << terminal.output());
    terminal.type("q");
    const std::optional<int> status = terminal.wait_exit();
    REQUIRE_MESSAGE(status,
                    "the demo did not quit on q; the terminal showed: " << terminal.output());
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    check_restored(terminal);
}

TEST_CASE("demo --console quits on Ctrl-C and restores the terminal") {
    const char* const args[] = {DEMO_PATH, "--console", "--refresh", "100", nullptr};
    InTerminal terminal(args);
    REQUIRE_MESSAGE(terminal.read_until("WORKER"), "no frame was drawn: " << terminal.output());
    terminal.type("\x03");  // Ctrl-C: a key for the console, which turns ISIG off
    const std::optional<int> status = terminal.wait_exit();
    REQUIRE_MESSAGE(status,
                    "the demo did not quit on Ctrl-C; the terminal showed: " << terminal.output());
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == 0);
    check_restored(terminal);
}

TEST_CASE("demo --console without a terminal is a usage error") {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        ::dup2(null, STDIN_FILENO);
        ::dup2(null, STDOUT_FILENO);
        ::dup2(null, STDERR_FILENO);
        ::execl(DEMO_PATH, DEMO_PATH, "--console", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    const bool exited =
        testing::eventually([&] { return ::waitpid(child, &status, WNOHANG) == child; });
    if (!exited) {
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
    }
    REQUIRE_MESSAGE(exited, "demo --console without a terminal did not exit");
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2);
}
