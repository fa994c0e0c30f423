// rt::fs::File: a file whose operations run on the blocking pool (new in chapter 9), after
// tokio::fs::File. Every method is a coroutine to co_await from a task; the system calls
// (open, pread, pwrite, fsync, fstat) run on a thread of the pool, never on a worker.
//
// Why a pool, and not the I/O driver: epoll cannot watch a regular file. epoll_ctl refuses one
// outright (EPERM), and poll(2) and select(2) report it always readable and writable, because
// a read of a regular file never answers EAGAIN: it waits for the disk, however long that
// takes, in the calling thread. O_NONBLOCK changes nothing for files. So the only way to keep
// a worker free while a file is read is to read it on another thread (Tokio does that; io_uring
// would instead let the kernel do the read and report its completion, with no thread waiting).
//
// Guarantees:
//  - errors are std::filesystem::filesystem_error, with the operation, the path and errno's
//    meaning: "filesystem error: open: No such file or directory [/tmp/missing]";
//  - the descriptor is closed by whoever holds it last: the File, or a call still running on
//    the pool after the File (or the task awaiting the call) was destroyed. A call never
//    touches a closed, or reused, descriptor number;
//  - the position: File keeps its own, and every read and write is a pread or pwrite at it,
//    moved on once the call's result is back. A cancelled operation leaves the position where
//    it was, and a call still running after its task is gone never writes into the task's
//    buffers: reads land in the call's own buffer, copied out after the co_await;
//  - one round trip to the pool per operation: read_to_end and fs::read read the whole file in
//    one call (sized by fstat), where a loop of small reads would pay a pool round trip each;
//    read(buffer) reads up to max_read_chunk in one call.
//  - one operation at a time per File: a task awaits each in turn, as with a socket.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/executor.hpp"  // rt::spawn_blocking

namespace rt::fs {

/// The largest read one call of File::read makes (and copies): 2 MiB, as Tokio's newer
/// versions (1.24 had 16 KiB). Larger buffers are filled in part, like any read.
inline constexpr std::size_t max_read_chunk = std::size_t{2} << 20;

/// What File::metadata tells.
struct Metadata {
    std::uint64_t size = 0;  // bytes
    std::filesystem::file_type type = std::filesystem::file_type::none;
    std::filesystem::perms permissions = std::filesystem::perms::none;
    std::chrono::system_clock::time_point modified;

    bool is_file() const noexcept { return type == std::filesystem::file_type::regular; }
    bool is_directory() const noexcept { return type == std::filesystem::file_type::directory; }
};

namespace detail {

/// The error of a system call on `path`, from errno.
[[noreturn]] inline void fail(const char* operation, const std::filesystem::path& path, int error) {
    throw std::filesystem::filesystem_error(operation, path,
                                            std::error_code(error, std::generic_category()));
}

/// An open descriptor, closed when the last holder lets it go (see the guarantees above).
class Descriptor {
public:
    explicit Descriptor(int fd) noexcept : fd_(fd) {}
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    ~Descriptor() { ::close(fd_); }
    int get() const noexcept { return fd_; }

private:
    int fd_;
};

/// open(2) on the calling thread (a pool thread); throws the error with the path.
inline std::shared_ptr<Descriptor> open_descriptor(const std::filesystem::path& path, int flags) {
    int fd;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, 0666);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) fail("open", path, errno);
    return std::make_shared<Descriptor>(fd);
}

/// pread(2) until `size` bytes or the end of the file, from `offset`. Returns the count.
inline std::size_t pread_full(int fd, std::byte* data, std::size_t size, std::uint64_t offset,
                              const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < size) {
        const ssize_t got =
            ::pread(fd, data + done, size - done, static_cast<off_t>(offset + done));
        if (got < 0) {
            if (errno == EINTR) continue;
            fail("read", path, errno);
        }
        if (got == 0) break;  // the end of the file
        done += static_cast<std::size_t>(got);
    }
    return done;
}

/// Everything from `offset` to the end of the file, in one call: fstat gives the size to
/// expect, and the loop goes on past it, for a file that grows meanwhile.
inline std::vector<std::byte> read_rest(int fd, std::uint64_t offset,
                                        const std::filesystem::path& path) {
    struct stat status {};
    if (::fstat(fd, &status) < 0) fail("read", path, errno);
    std::size_t expected = 0;
    if (S_ISREG(status.st_mode) && static_cast<std::uint64_t>(status.st_size) > offset) {
        expected = static_cast<std::size_t>(static_cast<std::uint64_t>(status.st_size) - offset);
    }
    std::vector<std::byte> data(expected + 1);  // one more byte: finding the end costs no call
    std::size_t filled = 0;
    for (;;) {
        const std::size_t got =
            pread_full(fd, data.data() + filled, data.size() - filled, offset + filled, path);
        filled += got;
        if (filled < data.size()) break;  // short: the end
        data.resize(data.size() * 2);     // the file grew: read on
    }
    data.resize(filled);
    return data;
}

/// pwrite(2) all of `data` at `offset`.
inline void pwrite_all(int fd, std::span<const std::byte> data, std::uint64_t offset,
                       const std::filesystem::path& path) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t put =
            ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (put < 0) {
            if (errno == EINTR) continue;
            fail("write", path, errno);
        }
        done += static_cast<std::size_t>(put);
    }
}

inline Metadata metadata_of(const struct stat& status) {
    namespace stdfs = std::filesystem;
    Metadata metadata;
    metadata.size = static_cast<std::uint64_t>(status.st_size);
    if (S_ISREG(status.st_mode)) {
        metadata.type = stdfs::file_type::regular;
    } else if (S_ISDIR(status.st_mode)) {
        metadata.type = stdfs::file_type::directory;
    } else if (S_ISLNK(status.st_mode)) {
        metadata.type = stdfs::file_type::symlink;
    } else if (S_ISFIFO(status.st_mode)) {
        metadata.type = stdfs::file_type::fifo;
    } else if (S_ISSOCK(status.st_mode)) {
        metadata.type = stdfs::file_type::socket;
    } else if (S_ISCHR(status.st_mode)) {
        metadata.type = stdfs::file_type::character;
    } else if (S_ISBLK(status.st_mode)) {
        metadata.type = stdfs::file_type::block;
    } else {
        metadata.type = stdfs::file_type::unknown;
    }
    metadata.permissions = static_cast<stdfs::perms>(status.st_mode & 07777);
    metadata.modified = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::seconds(status.st_mtim.tv_sec) +
            std::chrono::nanoseconds(status.st_mtim.tv_nsec)));
    return metadata;
}

}  // namespace detail

class File {
public:
    /// Open an existing file for reading.
    static Task<File> open(std::filesystem::path path) {
        return open_with(std::move(path), O_RDONLY);
    }

    /// Create a file for writing, or empty an existing one.
    static Task<File> create(std::filesystem::path path) {
        return open_with(std::move(path), O_WRONLY | O_CREAT | O_TRUNC);
    }

    File(File&&) noexcept = default;
    File& operator=(File&&) noexcept = default;

    /// Read up to buffer.size() bytes (at most max_read_chunk) at the file's position; 0 at
    /// the end of the file. `buffer` must outlive the co_await, as for any read.
    Task<std::size_t> read(std::span<std::byte> buffer) {
        const std::size_t asked = std::min(buffer.size(), max_read_chunk);
        auto fd = fd_;
        auto path = path_;
        const std::uint64_t at = position_;
        auto call = spawn_blocking([fd, path, at, asked] {
            std::vector<std::byte> data(asked);
            data.resize(detail::pread_full(fd->get(), data.data(), asked, at, *path));
            return data;
        });
        std::vector<std::byte> got = co_await std::move(call);
        std::memcpy(buffer.data(), got.data(), got.size());
        position_ += got.size();
        co_return got.size();
    }

    /// Append everything from the file's position to its end to `out`, in one call on the
    /// pool; the count appended. `out` must outlive the co_await.
    // snippet-begin: read-to-end
    Task<std::size_t> read_to_end(std::vector<std::byte>& out) {
        auto fd = fd_;
        auto path = path_;
        const std::uint64_t at = position_;
        auto call =
            spawn_blocking([fd, path, at] { return detail::read_rest(fd->get(), at, *path); });
        std::vector<std::byte> got = co_await std::move(call);
        out.insert(out.end(), got.begin(), got.end());
        position_ += got.size();
        co_return got.size();
    }
    // snippet-end: read-to-end

    /// Write all of `data` at the file's position. The bytes are copied by this call (not when
    /// the coroutine first runs): `data` may go at once.
    Task<void> write_all(std::span<const std::byte> data) {
        return write_bytes(std::vector<std::byte>(data.begin(), data.end()));
    }

    /// Write the file's data and metadata through to the disk (fsync).
    Task<void> sync_all() {
        auto fd = fd_;
        auto path = path_;
        auto call = spawn_blocking([fd, path] {
            if (::fsync(fd->get()) < 0) detail::fail("sync", *path, errno);
        });
        co_await std::move(call);
    }

    /// Size, type, permissions and modification time (fstat).
    Task<Metadata> metadata() {
        auto fd = fd_;
        auto path = path_;
        auto call = spawn_blocking([fd, path] {
            struct stat status {};
            if (::fstat(fd->get(), &status) < 0) detail::fail("metadata", *path, errno);
            return detail::metadata_of(status);
        });
        co_return co_await std::move(call);
    }

    /// The path the file was opened with.
    const std::filesystem::path& path() const noexcept { return *path_; }

    /// Where the next read or write starts.
    std::uint64_t position() const noexcept { return position_; }

private:
    File(std::shared_ptr<detail::Descriptor> fd, std::filesystem::path path)
        : fd_(std::move(fd)),
          path_(std::make_shared<const std::filesystem::path>(std::move(path))) {}

    Task<void> write_bytes(std::vector<std::byte> data) {
        auto fd = fd_;
        auto path = path_;
        const std::uint64_t at = position_;
        const std::size_t size = data.size();
        auto call = spawn_blocking([fd, path, at, data = std::move(data)] {
            detail::pwrite_all(fd->get(), data, at, *path);
        });
        co_await std::move(call);
        position_ += size;
    }

    static Task<File> open_with(std::filesystem::path path, int flags) {
        auto call = spawn_blocking([path, flags] { return detail::open_descriptor(path, flags); });
        auto fd = co_await std::move(call);
        co_return File(std::move(fd), std::move(path));
    }

    std::shared_ptr<detail::Descriptor> fd_;             // shared with calls in flight
    std::shared_ptr<const std::filesystem::path> path_;  // for errors; shared, not copied
    std::uint64_t position_ = 0;
};

}  // namespace rt::fs
