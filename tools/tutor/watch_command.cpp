// `tutor watch [NN-EE]`: checks the current exercise again after every save under exercises/,
// moving on when it passes; quits on q, Ctrl-C, SIGTERM or (not a terminal) the end of stdin.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <iostream>

#include "check_report.hpp"
#include "commands.hpp"
#include "file_watch.hpp"
#include "next_step.hpp"
#include "process.hpp"
#include "terminal.hpp"

// The terminal is put back as it was on every way out. A save made while a check runs stays
// queued in inotify and causes another check, so none is missed.

namespace tutor {

namespace {

/// A signal handler may only write to a pipe: this one wakes the poll loop.
int signal_pipe_write = -1;

void on_quit_signal(int) {
    interrupt_requested = 1;
    if (signal_pipe_write >= 0) {
        const char byte = 'q';
        [[maybe_unused]] const auto written = ::write(signal_pipe_write, &byte, 1);
    }
}

/// Installs the quit handlers for SIGINT, SIGTERM and SIGHUP, and puts the old ones back.
class QuitSignals {
public:
    QuitSignals() {
        if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe failed");
        signal_pipe_write = pipe_[1];
        struct sigaction action {};
        action.sa_handler = on_quit_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = 0;  // no SA_RESTART: poll() returns early with EINTR
        for (std::size_t i = 0; i < signals_.size(); ++i)
            ::sigaction(signals_[i], &action, &saved_[i]);
    }
    ~QuitSignals() {
        for (std::size_t i = 0; i < signals_.size(); ++i)
            ::sigaction(signals_[i], &saved_[i], nullptr);
        signal_pipe_write = -1;
        ::close(pipe_[0]);
        ::close(pipe_[1]);
    }
    QuitSignals(const QuitSignals&) = delete;
    QuitSignals& operator=(const QuitSignals&) = delete;

    int fd() const { return pipe_[0]; }

private:
    static constexpr std::array<int, 3> signals_{SIGINT, SIGTERM, SIGHUP};
    std::array<struct sigaction, 3> saved_{};
    int pipe_[2]{-1, -1};
};

/// Waits until `watch` has had no event for `quiet` (at most `limit` in all), draining it:
/// an editor's save is several events, and one check should follow them all.
void settle(FileWatch& watch, std::chrono::milliseconds quiet, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!interrupt_requested && std::chrono::steady_clock::now() < end) {
        pollfd fd{watch.fd(), POLLIN, 0};
        if (::poll(&fd, 1, static_cast<int>(quiet.count())) <= 0) return;  // quiet (or a signal)
        watch.drain();
    }
}

class WatchSession {
public:
    WatchSession(const Project& project, const Exercise& start)
        : project_(project), progress_(project), current_(&start) {}

    /// Checks the current exercise and reports; moves on while exercises pass. On a
    /// terminal the screen is cleared first, so the report of the latest save is all it shows.
    void check() {
        const auto& s = Style::for_stdout();
        bool clear_screen = is_terminal(STDOUT_FILENO);
        for (;;) {
            if (clear_screen) std::cout << "\033[2J\033[H";
            clear_screen = false;  // keep the pass on screen when moving on
            std::cout << s.dim << "[watch] checking " << current_->id() << ' ' << current_->name
                      << "..." << s.reset << '\n'
                      << std::flush;
            const auto result = progress_.check(*current_);
            if (result.outcome == Outcome::interrupted || interrupt_requested) return;
            print_check_report(project_, *current_, result);
            if (result.outcome != Outcome::passed) break;
            const Exercise* next = progress_.next_unfinished(current_);
            if (interrupt_requested) return;
            if (next == nullptr) {
                print_next_step(project_, progress_, current_);
                break;
            }
            std::cout << "Moving on to " << next->id() << ' ' << next->name << ".\n\n";
            current_ = next;
        }
        std::cout << '\n'
                  << s.dim << "[watch] watching exercises/ for changes to check " << current_->id()
                  << " again; q quits, r checks now" << s.reset << '\n'
                  << std::flush;
    }

private:
    const Project& project_;
    Progress progress_;
    const Exercise* current_;
};

}  // namespace

int watch_command(const Project& project, const std::optional<std::string>& exercise) {
    const Exercise* start = nullptr;
    if (exercise) {
        start = &project.find_exercise(*exercise);
    } else {
        Progress progress(project);
        start = &current_exercise(project, progress);
    }

    FileWatch watch(project.root() / "exercises");
    QuitSignals signals;
    const bool keyboard = is_terminal(STDIN_FILENO);
    RawInput raw_input;  // does nothing unless stdin is a terminal
    bool stdin_open = true;

    WatchSession session(project, *start);
    session.check();

    while (!interrupt_requested) {
        pollfd fds[3] = {
            {watch.fd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        const int ready = ::poll(fds, stdin_open ? 3 : 2, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("poll failed");
        }
        if (fds[1].revents != 0) break;

        bool check_now = false;
        if (stdin_open && fds[2].revents != 0) {
            char keys[64];
            const ssize_t got = ::read(STDIN_FILENO, keys, sizeof keys);
            if (got <= 0 && !(got < 0 && errno == EINTR)) {
                if (!keyboard) break;  // the end of a piped stdin means quit
                stdin_open = false;
            }
            bool quit = false;
            for (ssize_t i = 0; i < got; ++i) {
                if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == '\x04') quit = true;
                if (keys[i] == 'r' || keys[i] == 'R' || keys[i] == '\n') check_now = true;
            }
            if (quit) break;
        }
        if (fds[0].revents != 0 && watch.drain()) {
            settle(watch, std::chrono::milliseconds(150), std::chrono::milliseconds(1500));
            check_now = true;
        }
        if (check_now && !interrupt_requested) session.check();
    }
    std::cout << "\n[watch] stopped.\n";
    interrupt_requested = 0;
    return 0;
}

}  // namespace tutor
