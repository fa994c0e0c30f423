// Running other programs (ninja, meson, git, exercise tests), output shown or captured, with
// an optional time limit, or handing over to them; exit codes pass on (signal N: 128 + N).
#pragma once

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tutor {

/// Set from a signal handler (watch mode) to make run_process stop its child and return.
extern volatile std::sig_atomic_t interrupt_requested;

/// How to run a child process.
struct ProcessOptions {
    std::filesystem::path cwd;                             ///< empty: tutor's own
    std::vector<std::pair<std::string, std::string>> env;  ///< added to tutor's environment
    bool capture = false;  ///< collect stdout and stderr together; stdin is /dev/null
    std::chrono::milliseconds timeout{0};  ///< 0: no limit; else the child is killed after it
    /// With capture: called with each piece of output as it arrives (also kept in `output`).
    std::function<void(std::string_view)> on_output;

    /// Options with the output captured.
    static ProcessOptions captured() {
        ProcessOptions options;
        options.capture = true;
        return options;
    }
    /// These options, run in `dir`.
    ProcessOptions in(std::filesystem::path dir) && {
        cwd = std::move(dir);
        return std::move(*this);
    }
    /// These options, with a time limit.
    ProcessOptions within(std::chrono::milliseconds limit) && {
        timeout = limit;
        return std::move(*this);
    }
    /// These options, with `watch` called on the output as it arrives.
    ProcessOptions following(std::function<void(std::string_view)> watch) && {
        on_output = std::move(watch);
        return std::move(*this);
    }
    /// These options, with `variables` added to the environment.
    ProcessOptions with_env(std::vector<std::pair<std::string, std::string>> variables) && {
        env = std::move(variables);
        return std::move(*this);
    }
};

/// How a child process ended.
struct ProcessResult {
    int exit_code = 0;         ///< the exit status, or 128 + signal number
    int signal = 0;            ///< the signal that killed it, 0 when it exited
    bool timed_out = false;    ///< killed because it ran past the timeout
    bool interrupted = false;  ///< killed because interrupt_requested was set
    std::string output;        ///< stdout and stderr when captured (the first 4 MiB)
};

/// Runs `argv` (argv[0] looked up in PATH) and waits for it. Throws std::runtime_error
/// when the program cannot be started at all.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

/// Replaces tutor with `argv` (looked up in PATH); returns only by throwing.
[[noreturn]] void exec_process(const std::vector<std::string>& argv);

/// The name of a signal ("SIGSEGV"), or "signal N".
std::string signal_name(int signal);

}  // namespace tutor
