// `tutor watch [NN-EE]`: checks the current exercise again after every save under exercises/,
// and answers keys: n the next unfinished exercise, h its next hint, l the list of exercises
// and what is done, c check now, e open its files in $VISUAL or $EDITOR, q quit. It quits on
// q, Ctrl-C, SIGTERM, SIGHUP or (stdin not a terminal) the end of stdin, with the terminal
// put back as it was on every way out.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <vector>

#include "check_report.hpp"
#include "commands.hpp"
#include "editor.hpp"
#include "file_watch.hpp"
#include "next_step.hpp"
#include "process.hpp"
#include "terminal.hpp"

// A pass no longer moves on by itself: the learner may want to keep experimenting, so the
// watch says that it passes and that n moves on. A save made while a check runs is still seen
// afterwards (inotify keeps the event queued; a snapshot compared later differs), and causes
// another check, so none is missed. Keys pressed during a check wait for its end; Ctrl-C
// stops the check at once.
//
// File changes come from inotify, or, when inotify cannot watch (the limit of watches, a
// network or Windows-mounted filesystem) or TUTOR_WATCH_POLL=1 asks for it, from comparing
// the files' sizes and modification times every second (file_watch.hpp).

namespace tutor {

namespace {

/// Where the signal handlers write; a handler may only do that much. -1 when not watching.
int signal_pipe_write = -1;

/// Wakes the poll loop with `byte`, keeping errno as it was for the code the signal cut into.
void write_to_signal_pipe(char byte) {
    const int saved_errno = errno;
    if (signal_pipe_write >= 0) {
        [[maybe_unused]] const auto written = ::write(signal_pipe_write, &byte, 1);
    }
    errno = saved_errno;
}

/// SIGINT, SIGTERM, SIGHUP: stop the check under way (run_process sees the flag) and quit.
void on_quit_signal(int) {
    interrupt_requested = 1;
    write_to_signal_pipe('q');
}

/// SIGCONT: back from a stop (Ctrl-Z, then fg), after the shell put its terminal settings back.
void on_continue_signal(int) { write_to_signal_pipe('c'); }

/// Installs the handlers of the signals the watch answers, and puts the old ones back.
class WatchSignals {
public:
    /// What the signals that arrived since the last take() ask for.
    struct Arrived {
        bool quit = false;     ///< SIGINT, SIGTERM or SIGHUP
        bool resumed = false;  ///< SIGCONT
    };

    WatchSignals() {
        if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("pipe failed");
        signal_pipe_write = pipe_[1];
        for (std::size_t i = 0; i < signals_.size(); ++i) {
            struct sigaction action {};
            action.sa_handler = signals_[i] == SIGCONT ? on_continue_signal : on_quit_signal;
            sigemptyset(&action.sa_mask);
            action.sa_flags = 0;  // no SA_RESTART: poll() returns early with EINTR
            ::sigaction(signals_[i], &action, &saved_[i]);
        }
    }
    ~WatchSignals() {
        for (std::size_t i = 0; i < signals_.size(); ++i)
            ::sigaction(signals_[i], &saved_[i], nullptr);
        signal_pipe_write = -1;
        ::close(pipe_[0]);
        ::close(pipe_[1]);
    }
    WatchSignals(const WatchSignals&) = delete;
    WatchSignals& operator=(const WatchSignals&) = delete;

    /// The descriptor to poll: readable when a signal arrived.
    int fd() const { return pipe_[0]; }

    /// Reads what arrived, without blocking.
    Arrived take() {
        Arrived arrived;
        char bytes[16];
        ssize_t got;
        while ((got = ::read(pipe_[0], bytes, sizeof bytes)) > 0 || (got < 0 && errno == EINTR)) {
            for (ssize_t i = 0; i < got; ++i) {
                arrived.quit = arrived.quit || bytes[i] == 'q';
                arrived.resumed = arrived.resumed || bytes[i] == 'c';
            }
        }
        return arrived;
    }

private:
    static constexpr std::array<int, 4> signals_{SIGINT, SIGTERM, SIGHUP, SIGCONT};
    std::array<struct sigaction, 4> saved_{};
    int pipe_[2]{-1, -1};
};

/// True when TUTOR_WATCH_POLL is set (and not "0"): compare files every second, even where
/// inotify works, to try the fallback, or where inotify misses saves without saying so.
bool polling_forced() {
    const char* value = std::getenv("TUTOR_WATCH_POLL");
    return value != nullptr && *value != '\0' && std::string_view(value) != "0";
}

/// Waits until `watch` has seen no change for `quiet` (at most `limit` in all): an editor's
/// save is several events, and one check should follow them all.
void settle(FileWatch& watch, std::chrono::milliseconds quiet, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!interrupt_requested && std::chrono::steady_clock::now() < end) {
        if (!watch.wait_for_change(quiet)) return;  // quiet (or a signal)
    }
}

/// The files of an exercise that the learner edits: every file in its folder but the task
/// (README.md), the hints (HINTS.md) and the specification (test.cpp); root-relative, sorted.
std::vector<fs::path> learner_files(const Project& project, const Exercise& ex) {
    std::vector<fs::path> files;
    const fs::path folder = project.exercise_path(ex);
    std::error_code ec;
    for (fs::directory_iterator it(project.root() / folder, ec), end; !ec && it != end;
         it.increment(ec)) {
        const auto name = it->path().filename().string();
        std::error_code entry_ec;
        if (!it->is_regular_file(entry_ec) || is_editor_noise(name) || name == "README.md" ||
            name == "HINTS.md" || name == "test.cpp")
            continue;
        files.push_back(folder / name);
    }
    std::sort(files.begin(), files.end());
    return files;
}

/// The watch's state: the exercise it checks, and what each key does.
class WatchSession {
public:
    /// `notices` collects lines to show at the top of the next check's screen (why the
    /// watch polls): they must not be cleared away before the learner could read them.
    WatchSession(const Project& project, const Exercise& start, const FileWatch& watch,
                 RawInput& raw_input, std::string& notices)
        : project_(project),
          current_(&start),
          watch_(watch),
          raw_input_(raw_input),
          notices_(notices) {}

    /// Checks the current exercise and reports, on a cleared screen on a terminal, so the
    /// report of the latest save is all it shows; on a pass, says that n moves on.
    void check() {
        const auto& s = Style::for_stdout();
        if (is_terminal(STDOUT_FILENO)) std::cout << "\033[2J\033[H";
        std::cout << notices_;
        notices_.clear();
        std::cout << s.dim << "[watch] checking " << current_->id() << ' ' << current_->name
                  << "..." << s.reset << '\n'
                  << std::flush;
        Progress progress(project_);
        const auto result = progress.check(*current_);
        if (result.outcome == Outcome::interrupted || interrupt_requested) return;
        print_check_report(project_, *current_, result);
        if (result.outcome == Outcome::passed) {
            const Exercise* next = next_unfinished(progress);
            if (interrupt_requested) return;
            if (next != nullptr) {
                std::cout << "Keep experimenting if you like; " << s.bold << 'n' << s.reset
                          << " moves on to " << next->id() << ' ' << next->name << " ("
                          << next->description << ").\n";
            } else {
                print_next_step(project_, progress, current_);
            }
        }
        legend();
    }

    /// n: moves to the next unfinished exercise, and checks it.
    void next() {
        Progress progress(project_);
        const Exercise* next = next_unfinished(progress);
        if (interrupt_requested) return;
        if (next == nullptr) {
            std::cout << '\n';
            if (progress.is_done(*current_)) {
                print_next_step(project_, progress, current_);
            } else {
                std::cout << current_->id() << ' ' << current_->name
                          << " is the only exercise not done yet.\n";
            }
            legend();
            return;
        }
        current_ = next;
        check();
    }

    /// h: the current exercise's next hint, as `tutor hint` shows it (one more each time).
    void hint() {
        std::cout << '\n';
        hint_command(project_, current_->id(), false, false);
        legend();
    }

    /// l: every exercise, done or not yet, as `tutor status` shows them.
    void list() {
        std::cout << '\n';
        status_command(project_);
        legend();
    }

    /// e: opens the current exercise's files in the learner's editor, the terminal in its
    /// normal mode meanwhile. What the editor saves is checked as any save is.
    void edit() {
        const auto& s = Style::for_stdout();
        const auto files = learner_files(project_, *current_);
        const auto command = editor_command();
        std::cout << '\n';
        if (files.empty()) {
            std::cout << "[watch] " << project_.exercise_path(*current_)
                      << "/ has no files of yours to open.\n";
        } else if (!command) {
            std::cout << "[watch] e opens " << join(files) << " in your editor, but " << s.yellow
                      << "neither $VISUAL nor $EDITOR is set" << s.reset
                      << ": quit, then for example export EDITOR=nano and ./tutor watch again.\n";
        } else {
            std::cout << s.dim << "[watch] " << *command << ' ' << join(files) << s.reset << '\n'
                      << std::flush;
            int exit_code = 0;
            {
                struct NormalMode {
                    RawInput& input;
                    ~NormalMode() { input.resume(); }
                } normal_mode{raw_input_};
                raw_input_.suspend();
                exit_code = open_in_editor(*command, files, project_.root());
            }
            if (exit_code != 0)
                std::cout << "[watch] the editor ended with exit code " << exit_code << ".\n";
        }
        legend();
    }

    /// The one line that says what the keys do.
    void legend() const {
        const auto& s = Style::for_stdout();
        std::cout << '\n' << s.dim << "[watch]" << s.reset;
        for (std::size_t i = 0; i < keys.size(); ++i)
            std::cout << (i == 0 ? " " : "  ") << s.bold << keys[i][0] << s.reset << ' ' << keys[i];
        std::cout << s.dim << "   (a save checks " << current_->id() << " again"
                  << (watch_.polling() ? ", within a second: polling" : "") << ')' << s.reset
                  << '\n'
                  << std::flush;
    }

private:
    /// The keys, each the first letter of what it does.
    static constexpr std::array<const char*, 6> keys{"next",  "hint", "list",
                                                     "check", "edit", "quit"};

    /// The first exercise after the current one, in order and starting over from the first,
    /// that is not done; nullptr when every other one is done (or on Ctrl-C).
    const Exercise* next_unfinished(Progress& progress) const {
        const auto& all = project_.exercises();
        std::size_t here = 0;
        while (here < all.size() && all[here].id() != current_->id()) ++here;
        for (std::size_t step = 1; step < all.size() && !interrupt_requested; ++step) {
            const Exercise& ex = all[(here + step) % all.size()];
            if (!progress.is_done(ex)) return &ex;
        }
        return nullptr;
    }

    /// "exercises/a.hpp exercises/b.hpp".
    static std::string join(const std::vector<fs::path>& files) {
        std::string text;
        for (const auto& file : files) text += (text.empty() ? "" : " ") + file.string();
        return text;
    }

    const Project& project_;
    const Exercise* current_;  // the exercise a save checks
    const FileWatch& watch_;   // asked whether it polls, for the legend
    RawInput& raw_input_;      // suspended while an editor runs
    std::string& notices_;     // shown by the next check()
};

/// Does what `key` asks; false for quit. On a terminal Enter checks too; a line's end from a
/// pipe, where keys come one line each, does not. Other keys do nothing.
bool press(WatchSession& session, char key, bool keyboard) {
    switch (key) {
        case 'n':
        case 'N':
            session.next();
            return true;
        case 'h':
        case 'H':
            session.hint();
            return true;
        case 'l':
        case 'L':
            session.list();
            return true;
        case 'c':
        case 'C':
        case 'r':  // "check" before there were other keys
        case 'R':
            session.check();
            return true;
        case 'e':
        case 'E':
            session.edit();
            return true;
        case '\n':
            if (keyboard) session.check();
            return true;
        case 'q':
        case 'Q':
        case '\x04':  // Ctrl-D
            return false;
        default:
            return true;
    }
}

}  // namespace

int watch_command(const Project& project, const std::optional<std::string>& exercise) {
    const Exercise* start = nullptr;
    if (exercise) {
        start = &project.find_exercise(*exercise);
    } else {
        Progress progress(project);
        start = &current_exercise(project, progress);
    }

    const auto& s = Style::for_stdout();
    const std::string instead = "the files' sizes and modification times every second instead";
    std::string notices;
    const bool force_polling = polling_forced();
    if (force_polling) {
        notices += s.yellow + "[watch] TUTOR_WATCH_POLL is set: watch compares " + instead +
                   " of using inotify." + s.reset + '\n';
    }
    WatchSignals signals;
    const bool keyboard = is_terminal(STDIN_FILENO);
    RawInput raw_input;  // does nothing unless stdin is a terminal
    FileWatch watch(project.root() / "exercises", force_polling, [&](const std::string& why) {
        notices +=
            s.yellow + "[watch] " + why + "; watch compares " + instead + '.' + s.reset + '\n';
    });
    WatchSession session(project, *start, watch, raw_input, notices);
    session.check();

    bool stdin_open = true;
    while (!interrupt_requested) {
        pollfd fds[3] = {
            {signals.fd(), POLLIN, 0}, {watch.fd(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
        const int ready = ::poll(fds, stdin_open ? 3 : 2, watch.timeout_ms());
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("poll failed");
        }
        if (fds[0].revents != 0) {
            const auto arrived = signals.take();
            if (arrived.quit) break;
            if (arrived.resumed) raw_input.resume();
        }
        if ((watch.polling() || fds[1].revents != 0) && watch.take_changes()) {
            settle(watch, std::chrono::milliseconds(150), std::chrono::milliseconds(1500));
            if (interrupt_requested) break;
            session.check();
        }
        if (stdin_open && fds[2].revents != 0) {
            char keys[64];
            const ssize_t got = ::read(STDIN_FILENO, keys, sizeof keys);
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) {
                if (!keyboard) break;  // the end of a piped stdin means quit
                stdin_open = false;
                continue;
            }
            bool quit = false;
            for (ssize_t i = 0; i < got && !quit && !interrupt_requested; ++i) {
                try {
                    quit = !press(session, keys[i], keyboard);
                } catch (const std::exception& e) {
                    std::cout.flush();
                    std::cerr << "tutor: " << e.what() << '\n';
                    session.legend();
                }
            }
            if (quit) break;
        }
    }
    std::cout << "\n[watch] stopped.\n";
    interrupt_requested = 0;
    return 0;
}

}  // namespace tutor
