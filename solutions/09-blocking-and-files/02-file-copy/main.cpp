// Exercise 09-02's program: copy FROM to TO with ex::copy_file, showing the progress on stderr.
// Ctrl-C cancels the copy: the copy's task is aborted, its frame destroyed where it waits, and
// its PartialFile guard removes TO.part; TO, if it existed, is untouched. Exits 0 when the copy
// is done, 1 when it failed (with the reason), 130 when it was cancelled.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <system_error>

#include <file_copy.hpp>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/signal/ctrl_c.hpp"
#include "rt/task.hpp"
#include "support/cli.hpp"

namespace {

namespace fs = std::filesystem;

void show(ex::Progress progress) {
    const double percent = progress.total == 0 ? 100.0
                                               : 100.0 * static_cast<double>(progress.copied) /
                                                     static_cast<double>(progress.total);
    std::fprintf(stderr, "\r  %llu of %llu bytes (%5.1f%%)",
                 static_cast<unsigned long long>(progress.copied),
                 static_cast<unsigned long long>(progress.total), percent);
}

/// Abort the copy at the first Ctrl-C.
rt::Task<void> cancel_on_ctrl_c(rt::signal::CtrlC ctrl_c, rt::JoinHandle<std::uint64_t>& copy) {
    co_await ctrl_c;
    copy.abort();
}

/// The exit code: 0 copied, 1 failed, 130 cancelled.
rt::Task<int> run(fs::path from, fs::path to, std::size_t chunk) {
    rt::signal::CtrlC ctrl_c = rt::signal::ctrl_c();  // from now on Ctrl-C is ours to handle
    auto copying = ex::copy_file(from, to, show, chunk);
    rt::JoinHandle<std::uint64_t> copy = rt::spawn(std::move(copying));
    auto watching = cancel_on_ctrl_c(std::move(ctrl_c), copy);
    rt::JoinHandle<void> watcher = rt::spawn(std::move(watching));
    try {
        const std::uint64_t copied = co_await copy;
        std::fprintf(stderr, "\ncopied %llu bytes from %s to %s\n",
                     static_cast<unsigned long long>(copied), from.c_str(), to.c_str());
        watcher.abort();  // its reference to `copy` must not outlive this frame
        co_return 0;
    } catch (const rt::TaskAborted&) {
        std::fprintf(stderr, "\ncancelled; %s was removed%s\n", ex::partial_path(to).c_str(),
                     fs::exists(to) ? ", and the old destination is untouched" : "");
        co_return 130;
    } catch (const std::exception& error) {
        watcher.abort();
        std::fprintf(stderr, "\nsolution-09-02: cannot copy: %s\n", error.what());
        co_return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string from;
    std::string to;
    std::size_t chunk_kib = ex::default_chunk / 1024;
    CLI::App app{
        "Exercise 09-02: copy FROM to TO on the blocking pool, chunk by chunk, with progress "
        "on stderr. Ctrl-C cancels the copy and removes the partial file TO.part.",
        "solution-09-02"};
    app.add_option("FROM", from, "the file to copy")->required();
    app.add_option("TO", to, "where the copy goes (replaced only once the copy is complete)")
        ->required();
    app.add_option("--chunk-kib", chunk_kib, "bytes read and written at a time, in KiB")
        ->check(CLI::Range(std::size_t{1}, std::size_t{2048}))
        ->capture_default_str();
    if (auto exit_code = support::parse_command_line(app, argc, argv)) return *exit_code;

    std::error_code same_error;
    if (fs::equivalent(from, to, same_error)) {
        std::fprintf(stderr, "solution-09-02: %s and %s are the same file\n", from.c_str(),
                     to.c_str());
        return 1;
    }
    try {
        rt::Runtime runtime(0);
        return runtime.block_on(run(from, to, chunk_kib * 1024));
    } catch (const std::exception& error) {  // the runtime or ctrl_c could not start
        std::fprintf(stderr, "solution-09-02: %s\n", error.what());
        return 1;
    }
}
