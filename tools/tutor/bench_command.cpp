// `tutor bench [--stage NN] [--threads N] [--markdown FILE] [--svg FILE] [WORKLOAD...]`:
// builds the benchmark program of every stage that has one (tools/bench, bench-NN), runs the
// workloads on each, and prints one table, workloads by stages; --markdown and --svg also
// write it as a Markdown table and as an SVG chart (for docs/benchmarks.md). Without
// arguments: every timed workload of tools/bench/WORKLOADS.md on every stage, in about two
// minutes on a two-core machine. A FILE that cannot be written fails the command (exit 1); a
// missing or read-only folder is found before the benchmarks run, not after.
//
// `tutor bench --vs-tokio [--stage NN] [--threads N] [--rounds R] [--markdown FILE]
// [WORKLOAD...]`: one stage (default: the newest that has a benchmark program) against the
// Tokio program of tools/bench/tokio, which it builds with cargo, offline, from the crates
// Debian packages (without them: the apt-get command to run, and exit 2). For each workload
// the two programs run in turns, R rounds (each run itself the median of 7 repetitions), and
// the table shows both medians and their ratio, as WORKLOADS.md says to compare. `http` is
// served by each program in turn and loaded by wrk (skipped, saying why, without wrk).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "bench_report.hpp"
#include "build.hpp"
#include "commands.hpp"
#include "errors.hpp"
#include "process.hpp"

namespace tutor {

namespace {

/// Throws when `path` plainly cannot be written (its folder is missing or read-only, or it is
/// a folder), so a typo costs a message rather than minutes of benchmarks. `what` names the
/// content in the message ("the Markdown table").
void check_writable(const std::string& path, const std::string& what) {
    const fs::path file(path);
    const fs::path folder = file.parent_path().empty() ? fs::path(".") : file.parent_path();
    std::string reason;
    if (fs::is_directory(file)) {
        reason = "it is a folder";
    } else if (!fs::is_directory(folder)) {
        reason = "there is no folder " + folder.string();
    } else if (::access((fs::exists(file) ? file : folder).c_str(), W_OK) != 0) {
        reason = std::strerror(errno);
    }
    if (!reason.empty()) {
        throw std::runtime_error("cannot write " + what + " to " + path + ": " + reason);
    }
}

/// Writes `text` to `path`, replacing what it held; throws naming `what` when it cannot.
void write_text_file(const std::string& path, const std::string& text, const std::string& what) {
    errno = 0;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (out) out << text;
    if (out) out.close();
    if (!out) {
        throw std::runtime_error("cannot write " + what + " to " + path +
                                 (errno != 0 ? ": " + std::string(std::strerror(errno)) : ""));
    }
    std::cerr << "tutor: wrote " << what << " to " << path << "\n";
}

// ---- --vs-tokio ------------------------------------------------------------------------------

/// Where Debian installs the Rust crates it packages: tools/bench/tokio/.cargo/config.toml
/// builds from this folder instead of crates.io.
const fs::path packaged_crates = "/usr/share/cargo/registry";

/// The Tokio program's Cargo project, in the source tree.
fs::path tokio_project(const Project& project) { return project.root() / "tools/bench/tokio"; }

/// `program` as found in PATH (an executable file), or an empty path.
fs::path find_in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream folders(path != nullptr ? path : "");
    std::string folder;
    while (std::getline(folders, folder, ':')) {
        const fs::path candidate = fs::path(folder.empty() ? "." : folder) / program;
        if (fs::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) {
            return candidate;
        }
    }
    return {};
}

/// The command that installs Debian `packages`, with sudo unless tutor runs as root.
std::string apt_get_install(const std::string& packages) {
    return std::string(::geteuid() == 0 ? "" : "sudo ") + "apt-get install " + packages;
}

/// Whether Debian's Tokio crate (librust-tokio-dev) is in the packaged crates.
bool has_packaged_tokio() {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(packaged_crates, error)) {
        if (entry.path().filename().string().starts_with("tokio-1.")) return true;
    }
    return false;
}

/// Builds the Tokio program (cargo build --release, offline) into build/tokio-bench/ and
/// returns its path. Without cargo or the packaged crates, throws the UsageError that says
/// how to install them; a failed build throws with cargo's last lines.
fs::path build_tokio_program(const Project& project) {
    const bool has_cargo = !find_in_path("cargo").empty();
    const bool has_crates = has_packaged_tokio();
    if (!has_cargo || !has_crates) {
        const std::string crates =
            "Debian's Tokio crate (no tokio-1.* in " + packaged_crates.string() + ")";
        const std::string missing = !has_cargo && !has_crates ? "cargo, nor " + crates
                                    : !has_cargo              ? "cargo (not in PATH)"
                                                              : crates;
        const std::string packages = !has_cargo && !has_crates ? "cargo librust-tokio-dev"
                                     : !has_cargo              ? "cargo"
                                                               : "librust-tokio-dev";
        throw UsageError(
            "the comparison with Tokio builds the Tokio program (tools/bench/tokio) with cargo, "
            "offline, from the Rust crates Debian packages; this system has no " +
            missing + ". Install " + (!has_cargo && !has_crates ? "them" : "it") +
            " with:\n\n    " + apt_get_install(packages) + "\n\nthen run this command again.");
    }
    const fs::path target_dir = project.build_dir() / "tokio-bench";
    std::cerr << "tutor: building the Tokio program (cargo build --release, offline; the "
                 "first build takes a minute or two)\n";
    // Cargo reads .cargo/config.toml (offline, the packaged crates) from the folder it runs in.
    const auto cargo = [&project](const std::vector<std::string>& args) {
        std::vector<std::string> argv{"cargo"};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_process(
            argv,
            ProcessOptions::captured().in(tokio_project(project)).within(std::chrono::minutes(20)));
    };
    const std::vector<std::string> build_args{"build", "--release", "--quiet", "--target-dir",
                                              target_dir.string()};
    ProcessResult build = cargo(build_args);
    if (build.exit_code != 0 &&
        build.output.find("failed to select a version") != std::string::npos) {
        // Cargo.lock names Debian 12's versions, and this system packages others.
        std::cerr << "tutor: the packaged crates are not the versions that "
                     "tools/bench/tokio/Cargo.lock names (Debian 12's); cargo update --offline "
                     "chooses again from them, and changes Cargo.lock\n";
        if (cargo({"update", "--offline"}).exit_code == 0) build = cargo(build_args);
    }
    if (build.exit_code != 0) {
        std::string output = build.output;
        if (output.size() > 3000) output = "...\n" + output.substr(output.size() - 3000);
        throw std::runtime_error("the Tokio program does not build (cargo build --release in " +
                                 tokio_project(project).string() + "):\n" + output);
    }
    return target_dir / "release" / "tokio-bench";
}

/// One run of one program on one workload: its figure, or what went wrong.
struct WorkloadRun {
    std::optional<BenchFigure> figure;
    bool unsupported = false;  ///< exit code 2: the program cannot run this workload
    std::string message;       ///< why there is no figure; or wrk's complaints, if any
};

/// The last line of `output` that is not empty, without a leading "bench: " or
/// "tokio-bench: ", and without what WORKLOADS.md's programs put before the reason
/// ("spawn_remote: not supported by this stage: ").
std::string reason_in(const std::string& output) {
    std::istringstream lines(output);
    std::string line, last;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
    }
    for (const std::string prefix : {"bench: ", "tokio-bench: "}) {
        if (last.starts_with(prefix)) last.erase(0, prefix.size());
    }
    const std::string unsupported = "not supported by this stage: ";
    if (const auto at = last.find(unsupported); at != std::string::npos) {
        last.erase(0, at + unsupported.size());
    }
    return last;
}

/// How a program that did not give a figure ended, for the table.
WorkloadRun failed_run(const ProcessResult& result) {
    WorkloadRun run;
    run.unsupported = result.exit_code == 2;
    if (result.timed_out) {
        run.message = "it ran past its time limit";
    } else if (result.signal != 0) {
        run.message = "it was killed by " + signal_name(result.signal);
    } else if (result.exit_code == 0) {
        run.message = "it printed no figure";
    } else {
        const std::string reason = reason_in(result.output);
        run.message = run.unsupported ? reason
                                      : "exit " + std::to_string(result.exit_code) +
                                            (reason.empty() ? "" : ": " + reason);
    }
    return run;
}

/// Runs `program WORKLOAD --threads N` and reads its figure.
WorkloadRun run_workload(const fs::path& program, const std::string& workload, int threads) {
    const ProcessResult result =
        run_process({program.string(), workload, "--threads", std::to_string(threads)},
                    ProcessOptions::captured().within(std::chrono::minutes(10)));
    const auto figures = parse_bench_output(result.output);
    if (const auto found = figures.find(workload);
        found != figures.end() && result.exit_code == 0) {
        return WorkloadRun{found->second, false, ""};
    }
    return failed_run(result);
}

/// A port on 127.0.0.1 that nothing listens on now (the kernel's choice).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    const int error = errno;
    ::close(fd);
    if (!ok) throw std::runtime_error(std::string("no free port: ") + std::strerror(error));
    return ntohs(address.sin_port);
}

/// Whether something accepts connections on 127.0.0.1:`port`.
bool accepts_connections(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const bool connected =
        ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
}

/// A benchmark program serving the http workload, in the background for as long as this
/// lives; its output goes to `log`. Ended with SIGTERM (SIGKILL if it lingers).
class HttpServer {
public:
    HttpServer(const fs::path& program, int threads, int port, const fs::path& log) {
        const std::vector<std::string> args{program.string(), "http",
                                            "--threads",      std::to_string(threads),
                                            "--port",         std::to_string(port)};
        std::vector<char*> argv;
        for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        ::posix_spawn_file_actions_init(&actions);
        ::posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                           O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
        const int error = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        ::posix_spawn_file_actions_destroy(&actions);
        if (error != 0) {
            throw std::runtime_error("cannot run " + program.string() + ": " +
                                     std::strerror(error));
        }
    }
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    ~HttpServer() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        for (int waited_ms = 0; waited_ms < 5000; waited_ms += 20) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
            ::poll(nullptr, 0, 20);
        }
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
    }

    /// The server's exit status if it has ended (collected: the destructor then has nothing
    /// to stop), none while it runs.
    std::optional<ProcessResult> ended() {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
        pid_ = 0;
        ProcessResult result;
        if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
        if (WIFSIGNALED(status)) {
            result.signal = WTERMSIG(status);
            result.exit_code = 128 + result.signal;
        }
        return result;
    }

private:
    pid_t pid_ = 0;
};

/// The http workload: `program` serves on a free port, wrk loads it for 4 seconds
/// (WORKLOADS.md: wrk -t1 -c64 -d4s), and wrk's requests per second are the figure.
WorkloadRun run_http(const Project& project, const fs::path& program, int threads) {
    const int port = free_port();
    fs::create_directories(project.state_dir());
    const fs::path log = project.state_dir() / "bench-http-server.log";
    HttpServer server(program, threads, port, log);
    for (int waited_ms = 0; !accepts_connections(port); waited_ms += 50) {
        if (std::optional<ProcessResult> ended = server.ended()) {
            ended->output = read_text_file(log);
            WorkloadRun run = failed_run(*ended);
            if (ended->exit_code == 0) run.message = "it stopped before serving";
            return run;
        }
        if (waited_ms >= 10'000) return WorkloadRun{std::nullopt, false, "it did not listen"};
        ::poll(nullptr, 0, 50);
    }
    const ProcessResult wrk = run_process(
        {"wrk", "-t1", "-c64", "-d4s", "http://127.0.0.1:" + std::to_string(port) + "/"},
        ProcessOptions::captured().within(std::chrono::minutes(1)));
    const std::optional<double> rate = parse_wrk_rate(wrk.output);
    if (!rate) {
        return WorkloadRun{std::nullopt, false,
                           "wrk gave no rate (exit " + std::to_string(wrk.exit_code) + ")"};
    }
    const std::string errors = parse_wrk_errors(wrk.output);
    return WorkloadRun{BenchFigure{*rate, "req/s"}, false, errors.empty() ? "" : "wrk: " + errors};
}

/// The stage to compare: --stage's, else the newest whose benchmark program builds.
/// Returns its chapter and program; throws UsageError for a --stage without a program.
std::pair<const Chapter*, fs::path> comparison_stage(const Project& project,
                                                     const std::optional<std::string>& stage) {
    const std::vector<Chapter>& chapters = project.chapters();
    for (auto chapter = chapters.rbegin(); chapter != chapters.rend(); ++chapter) {
        if (!chapter->present || chapter->number < "04") continue;
        if (stage && chapter->number != *stage) continue;
        const std::string target = "tools/bench/bench-" + chapter->number;
        const BuildResult build = build_target(project, target);
        if (build.unknown_target) continue;
        if (!build.ok) {
            print_build_failure(
                project, build,
                "chapter " + chapter->number + "'s benchmark program does not build:", target);
            return {nullptr, {}};
        }
        return {&*chapter, project.build_dir() / target};
    }
    throw UsageError(stage ? "no benchmark program for chapter '" + *stage +
                                 "': the stages from chapter 04 on have one"
                           : "no chapter has a benchmark program yet");
}

int bench_vs_tokio(const Project& project, const BenchOptions& options) {
    if (!options.svg_file.empty()) {
        throw UsageError(
            "--svg draws the chart of the stages; with --vs-tokio, --markdown FILE writes the "
            "comparison's table");
    }
    std::vector<std::string> workloads = options.workloads;
    const auto& known = bench_workloads();
    for (const std::string& workload : workloads) {
        if (workload != "http" && std::find(known.begin(), known.end(), workload) == known.end()) {
            std::string list;
            for (const std::string& name : known) list += " " + name;
            throw UsageError("unknown workload '" + workload + "'; the workloads are:" + list +
                             " http");
        }
    }
    if (workloads.empty()) {
        workloads = known;
        workloads.push_back("http");
    }
    if (!options.markdown_file.empty()) check_writable(options.markdown_file, "the Markdown table");

    const auto [chapter, ours] = comparison_stage(project, options.stage);
    if (chapter == nullptr) return 1;  // its program does not build: the errors are shown
    const fs::path tokio = build_tokio_program(project);
    const std::string tokio_version =
        cargo_lock_version(read_text_file(tokio_project(project) / "Cargo.lock"), "tokio");
    const bool has_wrk = !find_in_path("wrk").empty();
    const std::string stage_name = "chapter " + chapter->number;

    std::vector<BenchComparison> rows;
    bool failed = false;    // a program crashed or failed: the exit code says so
    bool measured = false;  // the stage gave at least one figure
    for (const std::string& workload : workloads) {
        BenchComparison row;
        row.workload = workload;
        if (workload == "http" && !has_wrk) {
            row.note = "skipped: it needs wrk (" + apt_get_install("wrk") + ")";
            std::cerr << "tutor: http " << row.note << "\n";
            rows.push_back(row);
            continue;
        }
        bool done = false;
        for (int round = 0; round < options.rounds && !done; ++round) {
            // The stage first in even rounds, Tokio first in odd ones: neither always runs on
            // a machine the other has just warmed (or heated).
            for (const bool is_ours : {round % 2 == 0, round % 2 != 0}) {
                const std::string who = is_ours ? stage_name : std::string("Tokio");
                std::cerr << "tutor: " << workload << ", round " << round + 1 << " of "
                          << options.rounds << ": " << who << "\n";
                const fs::path& program = is_ours ? ours : tokio;
                const WorkloadRun run = workload == "http"
                                            ? run_http(project, program, options.threads)
                                            : run_workload(program, workload, options.threads);
                if (!run.figure) {
                    if (is_ours && run.unsupported) {
                        row.note = stage_name + " cannot run it: " + run.message;
                    } else {
                        row.note = who + " failed: " + run.message;
                        failed = true;
                    }
                    std::cerr << "tutor: " << workload << ": " << row.note << "\n";
                    row.ours.clear();  // no median of a partial series
                    row.tokio.clear();
                    done = true;
                    break;
                }
                if (!row.unit.empty() && run.figure->unit != row.unit) {
                    row.note = "the two programs report different units (" + row.unit + ", " +
                               run.figure->unit + ")";
                    failed = true;
                    row.ours.clear();
                    row.tokio.clear();
                    done = true;
                    break;
                }
                row.unit = run.figure->unit;
                (is_ours ? row.ours : row.tokio).push_back(run.figure->value);
                if (!run.message.empty() && row.note.find(run.message) == std::string::npos) {
                    row.note += (row.note.empty() ? "" : "; ") + run.message;
                }
            }
        }
        if (!row.ours.empty()) measured = true;
        rows.push_back(row);
    }
    if (!measured && !failed) {
        throw UsageError(
            stage_name + " can run none of these workloads with --threads " +
            std::to_string(options.threads) +
            (options.threads > 0 ? " (multi-threaded runtimes come with chapter 8)" : ""));
    }
    std::cout << comparison_table(rows, chapter->number, tokio_version, options.threads,
                                  options.rounds)
              << std::flush;
    if (!options.markdown_file.empty()) {
        write_text_file(options.markdown_file,
                        comparison_markdown(rows, chapter->number, options.threads),
                        "the Markdown table");
    }
    return failed ? 1 : 0;
}

}  // namespace

int bench_command(const Project& project, const BenchOptions& options) {
    if (options.vs_tokio) return bench_vs_tokio(project, options);
    const std::optional<std::string>& stage = options.stage;
    const int threads = options.threads;
    const std::vector<std::string>& workloads = options.workloads;
    const auto& known = bench_workloads();
    for (const std::string& workload : workloads) {
        if (std::find(known.begin(), known.end(), workload) == known.end()) {
            std::string list;
            for (const std::string& name : known) list += " " + name;
            throw UsageError("unknown workload '" + workload + "'; the workloads are:" + list);
        }
    }
    std::vector<const Chapter*> stages;
    for (const Chapter& chapter : project.chapters()) {
        if (!chapter.present || chapter.number < "04") continue;  // coroutines from chapter 4
        if (stage && chapter.number != *stage) continue;
        stages.push_back(&chapter);
    }
    if (stages.empty()) {
        throw UsageError(stage ? "no benchmark program for chapter '" + *stage +
                                     "': the stages from chapter 04 on have one"
                               : "no chapter has a benchmark program yet");
    }

    if (!options.markdown_file.empty()) check_writable(options.markdown_file, "the Markdown table");
    if (!options.svg_file.empty()) check_writable(options.svg_file, "the SVG chart");

    std::vector<std::string> columns;
    BenchFiguresByStage figures;
    bool failed = false;    // a benchmark program crashed or failed: the exit code says so
    bool measured = false;  // at least one figure came back
    for (const Chapter* chapter : stages) {
        const std::string target = "tools/bench/bench-" + chapter->number;
        const BuildResult build = build_target(project, target);
        if (build.unknown_target) continue;  // a stage the benchmarks do not cover
        if (!build.ok) {
            print_build_failure(
                project, build,
                "chapter " + chapter->number + "'s benchmark program does not build:", target);
            return 1;
        }
        columns.push_back(chapter->number);
        std::vector<std::string> runs = workloads;
        if (runs.empty()) runs = {"all", "idle_memory"};
        for (const std::string& workload : runs) {
            std::cerr << "tutor: chapter " << chapter->number << ": " << workload << "...\n";
            const ProcessResult result =
                run_process({(project.build_dir() / target).string(), workload, "--threads",
                             std::to_string(threads)},
                            ProcessOptions::captured().within(std::chrono::minutes(10)));
            for (auto& [name, figure] : parse_bench_output(result.output)) {
                figures[chapter->number][name] = figure;
                measured = true;
            }
            if (result.exit_code == 2) {
                std::cerr << "tutor: chapter " << chapter->number << " cannot run " << workload
                          << " with --threads " << threads << "\n";
            } else if (result.exit_code != 0) {
                std::cerr << "tutor: chapter " << chapter->number << "'s " << workload
                          << " failed (exit " << result.exit_code << ")\n";
                failed = true;
            }
        }
    }
    if (columns.empty()) {
        std::cout << "tutor: no stage has a benchmark program in the build\n";
        return 1;
    }
    if (!measured && !failed) {
        throw UsageError("no stage here can run " +
                         (workloads.empty() ? std::string("the workloads") : workloads.front()) +
                         " with --threads " + std::to_string(threads) +
                         (threads > 0 ? " (multi-threaded runtimes come with chapter 8)" : ""));
    }
    // By default, the workloads some stage could run; the ones asked for, all of them.
    std::vector<std::string> rows = workloads;
    if (rows.empty()) {
        for (const std::string& workload : known) {
            const bool any = std::any_of(figures.begin(), figures.end(), [&](const auto& stage) {
                return stage.second.contains(workload);
            });
            if (any) rows.push_back(workload);
        }
    }
    std::cout << "median of 7 runs each, --threads " << threads << " (0: single-threaded)\n\n"
              << bench_table(rows, columns, figures) << std::flush;
    if (!options.markdown_file.empty()) {
        write_text_file(options.markdown_file, bench_markdown(rows, columns, figures),
                        "the Markdown table");
    }
    if (!options.svg_file.empty()) {
        write_text_file(options.svg_file, bench_svg(rows, columns, figures, threads),
                        "the SVG chart");
    }
    return failed ? 1 : 0;
}

}  // namespace tutor
