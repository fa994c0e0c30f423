// rt::fs: whole-file operations on the blocking pool (new in chapter 9), after tokio::fs:
// read, read_to_string and write, each one call on the pool from open to close, so one round
// trip however large the file. Errors as rt::fs::File's (rt/fs/file.hpp): a
// std::filesystem::filesystem_error with the operation, the path and errno's meaning.
//
// Each coroutine here makes its call a statement of its own before awaiting the handle, never
// `co_await spawn_blocking([...] {...})` in one expression: GCC 12 destroys a temporary with a
// destructor twice when it lives in a co_await's full-expression (here the lambda, with a path
// and a buffer in it), which crashed in the first version of this file.
#pragma once

#include <fcntl.h>

#include <cstddef>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rt/fs/file.hpp"

namespace rt::fs {

namespace detail {
/// On a pool thread: open, read to the end, close.
inline std::vector<std::byte> read_whole(const std::filesystem::path& path) {
    const auto fd = open_descriptor(path, O_RDONLY);
    return read_rest(fd->get(), 0, path);
}
}  // namespace detail

/// The whole contents of the file at `path`.
inline Task<std::vector<std::byte>> read(std::filesystem::path path) {
    auto call = spawn_blocking([path = std::move(path)] { return detail::read_whole(path); });
    co_return co_await std::move(call);
}

/// The whole contents of the file at `path`, as a string (its bytes, unchecked: C++ strings
/// hold any bytes, where Rust's must be UTF-8).
inline Task<std::string> read_to_string(std::filesystem::path path) {
    auto call = spawn_blocking([path = std::move(path)] {
        const std::vector<std::byte> data = detail::read_whole(path);
        return std::string(reinterpret_cast<const char*>(data.data()), data.size());
    });
    co_return co_await std::move(call);
}

namespace detail {
inline Task<void> write_bytes(std::filesystem::path path, std::vector<std::byte> data) {
    auto call = spawn_blocking([path = std::move(path), data = std::move(data)] {
        const auto fd = open_descriptor(path, O_WRONLY | O_CREAT | O_TRUNC);
        pwrite_all(fd->get(), data, 0, path);
    });
    co_await std::move(call);
}
}  // namespace detail

/// Make the file at `path` hold `contents`, creating it or replacing what it held. The bytes
/// are copied by this call (not when the task first runs): `contents` may go at once.
inline Task<void> write(std::filesystem::path path, std::span<const std::byte> contents) {
    return detail::write_bytes(std::move(path),
                               std::vector<std::byte>(contents.begin(), contents.end()));
}

/// The same, for text.
inline Task<void> write(std::filesystem::path path, std::string_view contents) {
    return write(std::move(path), std::as_bytes(std::span(contents.data(), contents.size())));
}

}  // namespace rt::fs
