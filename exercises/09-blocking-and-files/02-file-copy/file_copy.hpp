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
//
// Compiles, and does not work yet: ~PartialFile and copy_file, marked TODO(exercise), are
// yours.
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
        // TODO(exercise): unless keep() was called, remove the file at path_, with the
        // std::error_code overload of std::filesystem::remove: a destructor must not throw,
        // and a file that was never made is not an error here.
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
    // TODO(exercise): open the source and read its metadata (fail on anything but a regular
    // file); guard partial_path(to) with a PartialFile, then create it; copy chunk by chunk
    // (read, write_all, report); sync_all; rename the partial file over `to` on the blocking
    // pool; keep() the guard; return the bytes copied. Make each call a statement of its
    // own before its co_await (see chapter 9's rt/fs/fs.hpp on GCC 12).
    (void)from;
    (void)to;
    (void)on_progress;
    (void)chunk;
    co_return 0;
}

}  // namespace ex
