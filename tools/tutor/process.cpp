// Child processes through fork and exec (see process.hpp). The child reports a failed exec
// through a close-on-exec pipe, so "ninja: not found" is an error message, not exit 127.
#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace tutor {

volatile std::sig_atomic_t interrupt_requested = 0;

namespace {

constexpr std::size_t max_captured = 4 << 20;

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
    std::vector<char*> result;
    for (const auto& arg : argv) result.push_back(const_cast<char*>(arg.c_str()));
    result.push_back(nullptr);
    return result;
}

/// A pipe whose ends are closed when it goes out of scope.
struct Pipe {
    int read_end = -1;
    int write_end = -1;

    Pipe() {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
        read_end = fds[0];
        write_end = fds[1];
    }
    Pipe(const Pipe&) = delete;
    Pipe& operator=(const Pipe&) = delete;
    ~Pipe() {
        close_read();
        close_write();
    }
    void close_read() {
        if (read_end >= 0) ::close(read_end);
        read_end = -1;
    }
    void close_write() {
        if (write_end >= 0) ::close(write_end);
        write_end = -1;
    }
};

/// In the child after fork: set up, exec, and on failure report errno through `error_fd`.
[[noreturn]] void become_child(const std::vector<std::string>& argv, const ProcessOptions& options,
                               int output_fd, int error_fd) {
    if (output_fd >= 0) {
        const int null_fd = ::open("/dev/null", O_RDONLY);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::dup2(output_fd, STDOUT_FILENO);
        ::dup2(output_fd, STDERR_FILENO);
    }
    // tutor's own handlers (watch mode) must not carry over
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGPIPE, SIG_DFL);
    int err = 0;
    if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) {
        err = errno;
    } else {
        for (const auto& [name, value] : options.env) ::setenv(name.c_str(), value.c_str(), 1);
        auto args = c_argv(argv);
        ::execvp(args[0], args.data());
        err = errno;
    }
    [[maybe_unused]] const auto written = ::write(error_fd, &err, sizeof err);
    ::_exit(127);
}

/// Asks the child to stop (SIGTERM: ninja then stops the compilers it started), and
/// kills it when it has not stopped after a second.
void stop(pid_t pid) {
    ::kill(pid, SIGTERM);
    for (int waited_ms = 0; waited_ms < 1000; waited_ms += 20) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid) {
            return;  // ended; finish() collects it
        }
        ::poll(nullptr, 0, 20);
    }
    ::kill(pid, SIGKILL);
}

ProcessResult finish(pid_t pid, ProcessResult result) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
    }
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
        result.exit_code = 128 + result.signal;
    }
    return result;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
    if (argv.empty()) throw std::logic_error("run_process: no program");
    Pipe exec_error;
    std::optional<Pipe> output;
    if (options.capture) output.emplace();

    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0)
        become_child(argv, options, output ? output->write_end : -1, exec_error.write_end);

    exec_error.close_write();
    if (output) output->close_write();

    int child_errno = 0;
    ssize_t n;
    while ((n = ::read(exec_error.read_end, &child_errno, sizeof child_errno)) < 0 &&
           errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        finish(pid, {});
        if (child_errno == ENOENT)
            throw std::runtime_error("cannot run '" + argv[0] +
                                     "': it is not installed (not found in PATH)");
        throw std::runtime_error("cannot run '" + argv[0] + "': " + std::strerror(child_errno));
    }

    ProcessResult result;
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + options.timeout;
    bool output_open = output.has_value();
    for (;;) {
        // Stop the child when asked to or when its time is up.
        const bool late = options.timeout.count() > 0 && Clock::now() >= deadline;
        if (late || interrupt_requested) {
            result.timed_out = late;
            result.interrupted = !late;
            stop(pid);
            return finish(pid, std::move(result));
        }
        if (output_open) {
            pollfd fd{output->read_end, POLLIN, 0};
            const int ready = ::poll(&fd, 1, 100);
            if (ready > 0) {
                char buffer[8192];
                const ssize_t got = ::read(output->read_end, buffer, sizeof buffer);
                if (got > 0) {
                    if (result.output.size() < max_captured)
                        result.output.append(buffer, static_cast<std::size_t>(got));
                    if (options.on_output)
                        options.on_output(std::string_view(buffer, static_cast<std::size_t>(got)));
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    output_open = false;  // the child closed its output: it is ending
                }
            }
            continue;
        }
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            if (WIFEXITED(status)) {
                result.exit_code = WEXITSTATUS(status);
            } else if (WIFSIGNALED(status)) {
                result.signal = WTERMSIG(status);
                result.exit_code = 128 + result.signal;
            }
            return result;
        }
        if (done < 0 && errno != EINTR)
            throw std::runtime_error(std::string("waitpid: ") + std::strerror(errno));
        ::poll(nullptr, 0, 20);
    }
}

void exec_process(const std::vector<std::string>& argv) {
    auto args = c_argv(argv);
    ::execvp(args[0], args.data());
    const int err = errno;
    if (err == ENOENT) throw std::runtime_error("cannot run '" + argv[0] + "': not found");
    throw std::runtime_error("cannot run '" + argv[0] + "': " + std::strerror(err));
}

std::string signal_name(int signal) {
    switch (signal) {
        case SIGSEGV:
            return "SIGSEGV (a bad memory access)";
        case SIGABRT:
            return "SIGABRT (abort: a failed assert, std::terminate, or a sanitizer)";
        case SIGFPE:
            return "SIGFPE (an arithmetic error such as division by zero)";
        case SIGBUS:
            return "SIGBUS (a bad memory access)";
        case SIGILL:
            return "SIGILL (an illegal instruction)";
        case SIGKILL:
            return "SIGKILL";
        case SIGTERM:
            return "SIGTERM";
        case SIGINT:
            return "SIGINT";
        default:
            return "signal " + std::to_string(signal);
    }
}

}  // namespace tutor
