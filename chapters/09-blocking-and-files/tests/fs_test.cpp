// Tests of chapter 9's files (rt/fs/): what is written is read back, whole or in pieces, on
// every runtime; each whole-file operation is one call on the blocking pool; errors name the
// operation, the path and errno's meaning, for a file that does not exist, a directory, and a
// path through a file; a file removed while open is still read to its end; the position stays
// where it was when an operation fails.
//
// Every file lives in a fresh directory under the system's temporary directory, removed at the
// end of its test.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/fs/file.hpp"
#include "rt/fs/fs.hpp"
#include "rt/runtime.hpp"
#include "testing/eventually.hpp"

namespace stdfs = std::filesystem;

namespace {

/// A fresh directory, removed with everything in it at the end of the test.
class Scratch {
public:
    Scratch() {
        std::random_device random;
        path_ = stdfs::temp_directory_path() /
                ("rt-fs-test-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
        stdfs::create_directories(path_);
    }
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() {
        std::error_code ignored;
        stdfs::remove_all(path_, ignored);
    }
    stdfs::path operator/(const std::string& name) const { return path_ / name; }

private:
    stdfs::path path_;
};

std::vector<std::byte> pattern(std::size_t size) {
    std::vector<std::byte> data(size);
    for (std::size_t i = 0; i < size; ++i) data[i] = std::byte(i * 7 + i / 251);
    return data;
}

/// What the operation `run()` throws, as the error's message; "" if it throws nothing.
template <class Run>
std::string error_of(rt::Runtime& runtime, Run run) {
    return runtime.block_on([run]() -> rt::Task<std::string> {
        try {
            co_await run();
        } catch (const stdfs::filesystem_error& error) {
            co_return error.what();
        }
        co_return "";
    });
}

}  // namespace

TEST_CASE("fs::write then fs::read gives back the same bytes, on every runtime") {
    Scratch scratch;
    for (std::size_t workers : {0, 1, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        for (std::size_t size :
             {std::size_t{0}, std::size_t{1}, std::size_t{4096}, std::size_t{300'001}}) {
            CAPTURE(size);
            const stdfs::path path = scratch / ("data-" + std::to_string(size));
            const std::vector<std::byte> data = pattern(size);
            const std::vector<std::byte> back =
                runtime.block_on([&]() -> rt::Task<std::vector<std::byte>> {
                    co_await rt::fs::write(path, data);
                    co_return co_await rt::fs::read(path);
                });
            CHECK(back == data);
            CHECK(stdfs::file_size(path) == size);
        }
    }
}

TEST_CASE("a whole-file read is one call on the blocking pool, however large the file") {
    Scratch scratch;
    rt::Runtime runtime(1);
    const stdfs::path path = scratch / "large";
    const std::vector<std::byte> data = pattern(std::size_t{3} << 20);
    // A pool thread counts a call after it has handed the result back, and then counts itself
    // idle: the counts are read once the thread is idle, so that they hold every call made.
    auto settled_calls = [&] {
        REQUIRE_MESSAGE(testing::eventually([&] { return runtime.blocking_stats().idle == 1; }),
                        "the pool's thread never became idle");
        return runtime.blocking_stats().calls;
    };
    runtime.block_on([&]() -> rt::Task<void> { co_await rt::fs::write(path, data); });
    const auto before = settled_calls();
    const std::size_t size = runtime.block_on(
        [&]() -> rt::Task<std::size_t> { co_return (co_await rt::fs::read(path)).size(); });
    CHECK(size == data.size());
    CHECK(settled_calls() - before == 1);
}

TEST_CASE("the seed's example: File::open, then read_to_end") {
    Scratch scratch;
    rt::Runtime runtime(2);
    const stdfs::path path = scratch / "hello.txt";
    const std::string text = "Hello, async world!\n";
    const std::string back = runtime.block_on([&]() -> rt::Task<std::string> {
        co_await rt::fs::write(path, text);
        rt::fs::File file = co_await rt::fs::File::open(path);
        std::vector<std::byte> contents;
        const std::size_t got = co_await file.read_to_end(contents);
        CHECK(got == contents.size());
        co_return std::string(reinterpret_cast<const char*>(contents.data()), contents.size());
    });
    CHECK(back == text);
}

TEST_CASE("File::read reads in pieces from the position on, and 0 at the end") {
    Scratch scratch;
    rt::Runtime runtime(1);
    const stdfs::path path = scratch / "pieces";
    const std::vector<std::byte> data = pattern(10'000);
    const std::vector<std::byte> back = runtime.block_on([&]() -> rt::Task<std::vector<std::byte>> {
        co_await rt::fs::write(path, data);
        rt::fs::File file = co_await rt::fs::File::open(path);
        std::vector<std::byte> all;
        std::vector<std::byte> buffer(3'000);
        for (;;) {
            const std::size_t got = co_await file.read(buffer);
            if (got == 0) break;
            all.insert(all.end(), buffer.begin(), buffer.begin() + static_cast<long>(got));
        }
        CHECK(file.position() == data.size());
        co_return all;
    });
    CHECK(back == data);
}

TEST_CASE("File::create, write_all, sync_all and metadata") {
    Scratch scratch;
    rt::Runtime runtime(0);
    const stdfs::path path = scratch / "written";
    const rt::fs::Metadata metadata = runtime.block_on([&]() -> rt::Task<rt::fs::Metadata> {
        rt::fs::File file = co_await rt::fs::File::create(path);
        {
            const std::string first = "first line\n";
            co_await file.write_all(std::as_bytes(std::span(first.data(), first.size())));
        }  // the bytes were copied: the string may go
        const std::string second = "second line\n";
        co_await file.write_all(std::as_bytes(std::span(second.data(), second.size())));
        co_await file.sync_all();
        co_return co_await file.metadata();
    });
    CHECK(metadata.is_file());
    CHECK_FALSE(metadata.is_directory());
    CHECK(metadata.size == 23);
    const std::string text = runtime.block_on(
        [&]() -> rt::Task<std::string> { co_return co_await rt::fs::read_to_string(path); });
    CHECK(text == "first line\nsecond line\n");
}

TEST_CASE("a file that does not exist: the error names the operation, the path and the cause") {
    Scratch scratch;
    rt::Runtime runtime(1);
    const stdfs::path path = scratch / "missing.txt";
    const std::string message = error_of(runtime, [path] { return rt::fs::read(path); });
    CHECK(message.find("open") != std::string::npos);
    CHECK(message.find("No such file or directory") != std::string::npos);
    CHECK(message.find(path.string()) != std::string::npos);
    CHECK(error_of(runtime, [path] { return rt::fs::File::open(path); }) == message);
}

TEST_CASE("a directory opens, and reading it fails with the path and EISDIR's meaning") {
    Scratch scratch;
    rt::Runtime runtime(1);
    const stdfs::path path = scratch / "a-directory";
    stdfs::create_directory(path);
    const std::string message = error_of(runtime, [path] { return rt::fs::read(path); });
    CHECK(message.find("read") != std::string::npos);
    CHECK(message.find("Is a directory") != std::string::npos);
    CHECK(message.find(path.string()) != std::string::npos);
    const bool is_directory = runtime.block_on([&]() -> rt::Task<bool> {
        rt::fs::File directory = co_await rt::fs::File::open(path);
        co_return (co_await directory.metadata()).is_directory();
    });
    CHECK(is_directory);
}

TEST_CASE("a path through a regular file: ENOTDIR, and writing there creates nothing") {
    Scratch scratch;
    rt::Runtime runtime(0);
    const stdfs::path file = scratch / "plain";
    runtime.block_on([&]() -> rt::Task<void> { co_await rt::fs::write(file, "x"); });
    const stdfs::path through = file / "child";
    const std::string message =
        error_of(runtime, [through] { return rt::fs::write(through, "never"); });
    CHECK(message.find("Not a directory") != std::string::npos);
    CHECK(message.find(through.string()) != std::string::npos);
    CHECK(stdfs::is_regular_file(file));
}

TEST_CASE("a file removed while it is open is still read to its end") {
    Scratch scratch;
    rt::Runtime runtime(2);
    const stdfs::path path = scratch / "removed";
    const std::vector<std::byte> data = pattern(100'000);
    const std::vector<std::byte> back = runtime.block_on([&]() -> rt::Task<std::vector<std::byte>> {
        co_await rt::fs::write(path, data);
        rt::fs::File file = co_await rt::fs::File::open(path);
        std::vector<std::byte> first(1'000);
        const std::size_t got = co_await file.read(first);
        first.resize(got);
        stdfs::remove(path);
        std::vector<std::byte> rest;
        co_await file.read_to_end(rest);
        first.insert(first.end(), rest.begin(), rest.end());
        co_return first;
    });
    CHECK(back == data);
    CHECK_FALSE(stdfs::exists(path));
}

TEST_CASE("a read that fails leaves the position where it was") {
    Scratch scratch;
    rt::Runtime runtime(1);
    const stdfs::path path = scratch / "a-directory";
    stdfs::create_directory(path);
    const std::uint64_t position = runtime.block_on([&]() -> rt::Task<std::uint64_t> {
        rt::fs::File directory = co_await rt::fs::File::open(path);
        std::vector<std::byte> buffer(10);
        try {
            co_await directory.read(buffer);
        } catch (const stdfs::filesystem_error&) {
        }
        co_return directory.position();
    });
    CHECK(position == 0);
}
