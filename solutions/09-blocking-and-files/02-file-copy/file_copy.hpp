// Exercise 09-02: an async file copy. ex::copy_file(from, to, on_progress, chunk) copies a file
// through chapter 9's rt::fs, chunk by chunk, reporting its progress after every chunk, and
// never leaves a partial file behind:
//  - it writes into `<to>.part`, beside the destination, and renames that over `to` only once
//    every byte is written and synced: until then an existing `to` is untouched, and a reader
//    of `to` never sees half a file (a rename within a folder is atomic);
//  - a PartialFile guard in the coroutine's frame removes `<to>.part` when the frame goes
//    without the copy having finished: an exception on the way (a read or write that failed,
//    a progress callback that threw), or the task's cancellation (JoinHandle::abort, a
//    timeout, the runtime shutting down), which destroys the frame where it waits.
// Errors are std::filesystem::filesystem_error naming the file that failed: the source, or the
// partial file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <system_error>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"
#include "rt/fs/file.hpp"

namespace ex {

/// How far a copy has come: reported after every chunk written.
struct Progress {
    std::uint64_t copied = 0;  // bytes written so far
    std::uint64_t total = 0;   // the source's size when the copy began
};

/// The chunk copy_file reads and writes at a time, unless told otherwise: 1 MiB, one round
/// trip to the blocking pool per read and per write.
inline constexpr std::size_t default_chunk = std::size_t{1} << 20;

/// The partial file's path: `<to>.part`.
inline std::filesystem::path partial_path(const std::filesystem::path& to) {
    std::filesystem::path part = to;
    part += ".part";
    return part;
}

/// Removes a partial file when it goes, unless keep() was called. Its destructor cannot await
/// (no destructor can), so it removes the file with a plain system call, on whatever thread
/// destroys it: one unlink, which takes microseconds, where the copy's reads and writes can
/// take the disk's time. A write still running on the pool when the copy is cancelled finishes
/// into the removed file, which the system frees when its descriptor closes.
class PartialFile {
public:
    explicit PartialFile(std::filesystem::path path) : path_(std::move(path)) {}
    PartialFile(const PartialFile&) = delete;
    PartialFile& operator=(const PartialFile&) = delete;
    ~PartialFile() {
        if (kept_) return;
        std::error_code ignored;  // already gone, or never made: nothing to remove
        std::filesystem::remove(path_, ignored);
    }

    /// The copy finished: the file is not partial any more.
    void keep() noexcept { kept_ = true; }

private:
    std::filesystem::path path_;
    bool kept_ = false;
};

/// Copy `from` to `to` (see the opening comment); the number of bytes copied. `on_progress`,
/// if given, is called after every chunk, on the copying task.
inline rt::Task<std::uint64_t> copy_file(std::filesystem::path from, std::filesystem::path to,
                                         std::function<void(Progress)> on_progress = {},
                                         std::size_t chunk = default_chunk) {
    auto opening = rt::fs::File::open(from);
    rt::fs::File source = co_await opening;
    auto stating = source.metadata();
    const rt::fs::Metadata metadata = co_await stating;
    if (!metadata.is_file()) {
        throw std::filesystem::filesystem_error(
            "copy_file: not a regular file", from,
            std::make_error_code(metadata.is_directory() ? std::errc::is_a_directory
                                                         : std::errc::invalid_argument));
    }

    const std::filesystem::path part = partial_path(to);
    PartialFile partial(part);  // from here on, any way out but the end removes it
    auto creating = rt::fs::File::create(part);
    rt::fs::File target = co_await creating;

    std::vector<std::byte> buffer(chunk == 0 ? 1 : chunk);
    Progress progress{.copied = 0, .total = metadata.size};
    for (;;) {
        auto reading = source.read(buffer);
        const std::size_t got = co_await reading;
        if (got == 0) break;
        auto writing = target.write_all(std::span<const std::byte>(buffer.data(), got));
        co_await writing;
        progress.copied += got;
        if (on_progress) on_progress(progress);
    }
    auto syncing = target.sync_all();
    co_await syncing;
    auto renaming = rt::spawn_blocking([part, to] { std::filesystem::rename(part, to); });
    co_await renaming;
    partial.keep();
    co_return progress.copied;
}

}  // namespace ex
