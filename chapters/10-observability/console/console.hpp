// The live console (`demo --console`): the runtime's metrics redrawn in place about once a
// second, in the spirit of tokio-console, until the user presses q or Ctrl-C; then the terminal
// is as it was before.
//
// It runs on a thread of its own, never as a task: an observer that ran on the runtime it
// watches would stop with it, and a task that blocks a worker is exactly what it must show.
//
// What it does to the terminal, and how it undoes it (TerminalMode, whatever way the console
// ends, an exception included):
//  - termios: canonical mode, echo and ISIG off, so that a key arrives at once and is not
//    printed, and Ctrl-C arrives as a key too (byte 3), read beside q, instead of a SIGINT;
//  - the alternate screen (as less and top use), with the cursor hidden, so that the shell's
//    screen comes back untouched at the end.
// Why Ctrl-C is a key and not a signal: a signal from the terminal goes to the whole process,
// and the kernel hands it to any one thread that does not block it; what then runs the handler,
// and when, is the program's to arrange across threads; under ThreadSanitizer, which defers
// a handler until its thread next enters one of its interceptors, the tests once saw a Ctrl-C
// missed for twenty seconds. A key the console reads itself, in its own poll, has no such path.
// (Full-screen programs built on curses do the same: raw mode turns ISIG off.)
// SIGINT and SIGTERM sent by other means (kill) still end the console: they are caught for its
// life by a handler that writes one byte to a pipe (the self-pipe trick, as
// rt/signal/ctrl_c.hpp does) which the console's poll(2) watches beside the keyboard; the
// previous handlers are put back at the end. The program blocks both signals before it starts
// any other thread (block_quit_signals), and the console unblocks them in its own: the kernel
// then delivers them to the console's thread, in its poll, and never to a worker asleep in
// epoll_wait.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "console/view.hpp"
#include "rt/metrics/snapshot.hpp"

namespace console {

/// The console cannot run here (not a terminal, a terminal that refuses its mode).
class ConsoleError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

inline int signal_pipe[2] = {-1, -1};

extern "C" inline void on_quit_signal(int) {
    const int saved = errno;  // a handler must leave errno as it found it
    const char byte = 'x';
    [[maybe_unused]] const ssize_t written = ::write(signal_pipe[1], &byte, 1);
    errno = saved;
}

/// Write all of `text`, through short writes and interruptions.
inline void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t written = ::write(fd, text.data(), text.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            return;  // the terminal is gone: nothing left to show anything on
        }
        text.remove_prefix(static_cast<std::size_t>(written));
    }
}

}  // namespace detail

/// The terminal in the console's mode for this object's life (see the top of this file).
class TerminalMode {
public:
    TerminalMode(int in, int out) : in_(in), out_(out) {
        if (::isatty(in) == 0 || ::isatty(out) == 0) {
            throw ConsoleError(
                "--console needs a terminal: run it without redirecting input or output");
        }
        if (::tcgetattr(in, &saved_) != 0) {
            throw ConsoleError(std::string("cannot read the terminal's settings: ") +
                               std::strerror(errno));
        }
        termios raw = saved_;
        raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO | ISIG));  // Ctrl-C: byte 3
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        if (::tcsetattr(in, TCSANOW, &raw) != 0) {
            throw ConsoleError(std::string("cannot set the terminal's mode: ") +
                               std::strerror(errno));
        }
        detail::write_all(out_, "\x1b[?1049h\x1b[?25l");  // alternate screen, cursor hidden
    }
    TerminalMode(const TerminalMode&) = delete;
    TerminalMode& operator=(const TerminalMode&) = delete;
    ~TerminalMode() {
        detail::write_all(out_, "\x1b[?25h\x1b[?1049l");  // cursor shown, the shell's screen
        ::tcsetattr(in_, TCSANOW, &saved_);
    }

private:
    int in_;
    int out_;
    termios saved_{};
};

/// SIGINT and SIGTERM caught into the self-pipe for this object's life.
class QuitSignals {
public:
    QuitSignals() {
        if (::pipe2(detail::signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
            throw std::system_error(errno, std::generic_category(), "pipe2");
        }
        struct sigaction action {};
        action.sa_handler = detail::on_quit_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        ::sigaction(SIGINT, &action, &old_int_);
        ::sigaction(SIGTERM, &action, &old_term_);
    }
    QuitSignals(const QuitSignals&) = delete;
    QuitSignals& operator=(const QuitSignals&) = delete;
    ~QuitSignals() {
        ::sigaction(SIGINT, &old_int_, nullptr);
        ::sigaction(SIGTERM, &old_term_, nullptr);
        ::close(detail::signal_pipe[0]);
        ::close(detail::signal_pipe[1]);
        detail::signal_pipe[0] = detail::signal_pipe[1] = -1;
    }
    int fd() const noexcept { return detail::signal_pipe[0]; }

private:
    struct sigaction old_int_ {};
    struct sigaction old_term_ {};
};

/// SIGINT and SIGTERM blocked in this thread, and in every thread it starts from now on: call
/// it before the runtime starts its workers. run() unblocks them in the console's thread.
inline void block_quit_signals() {
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &quit, nullptr);
}

/// Why the console stopped: q or Ctrl-C typed, SIGINT or SIGTERM sent, or no more input.
enum class Quit { key, signal, input_closed };

/// What Ctrl-C types once ISIG is off (TerminalMode): ASCII's ETX.
inline constexpr char ctrl_c = '\x03';

struct RunOptions {
    std::chrono::milliseconds refresh{1000};
    ViewOptions view;
    int in = STDIN_FILENO;
    int out = STDOUT_FILENO;
};

/// Show `snapshot()` every `refresh` until q, Ctrl-C, SIGTERM or the end of the input. Throws
/// ConsoleError if the terminal cannot be used; the terminal is restored in every case.
inline Quit run(const std::function<rt::MetricsSnapshot()>& snapshot, const RunOptions& options) {
    TerminalMode mode(options.in, options.out);
    QuitSignals signals;
    sigset_t quit;
    sigemptyset(&quit);
    sigaddset(&quit, SIGINT);
    sigaddset(&quit, SIGTERM);
    ::pthread_sigmask(SIG_UNBLOCK, &quit, nullptr);  // delivered here (see the top of the file)
    rt::MetricsSnapshot before = snapshot();
    bool first = true;
    auto next = std::chrono::steady_clock::now();
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (now >= next) {
            rt::MetricsSnapshot current = snapshot();
            // Home, the frame with each line's rest cleared, then the rest of the screen.
            std::string text = "\x1b[H";
            const std::string frame = render(current, first ? nullptr : &before, options.view);
            for (std::size_t start = 0; start < frame.size();) {
                const std::size_t end = frame.find('\n', start);
                text.append(frame, start, end - start);
                text += "\x1b[K\r\n";
                start = end + 1;
            }
            text += "\x1b[J";
            detail::write_all(options.out, text);
            before = std::move(current);
            first = false;
            next = now + options.refresh;
        }
        pollfd watched[2] = {{options.in, POLLIN, 0}, {signals.fd(), POLLIN, 0}};
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
            next - std::chrono::steady_clock::now());
        const int ready =
            ::poll(watched, 2, static_cast<int>(std::max<long long>(0, wait.count())));
        if (ready < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if ((watched[1].revents & POLLIN) != 0) return Quit::signal;
        if ((watched[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            char keys[64];
            const ssize_t got = ::read(options.in, keys, sizeof keys);
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
                return Quit::input_closed;
            for (ssize_t i = 0; i < got; ++i) {
                if (keys[i] == 'q' || keys[i] == 'Q' || keys[i] == ctrl_c) return Quit::key;
            }
        }
    }
}

}  // namespace console
