// Tests of exercise 09-02, the specification of ex::copy_file and ex::PartialFile: files of
// every size are copied byte for byte, with one progress report per chunk rising to the total;
// a source that is missing or a directory, and a destination folder that is missing, fail with
// a filesystem_error naming the file, and leave nothing behind; a failure in the middle (a
// progress callback that throws) and a cancellation in the middle (the copy's task aborted
// from its own progress callback) remove the partial file and leave an existing destination
// untouched; a source removed during the copy is still copied whole, since its descriptor
// holds it. Every test runs on the single-threaded runtime and on two workers, in a temporary
// folder of its own that it removes. No verdict depends on speed: an abort takes effect where
// the task next waits, which a very fast pool can make come after the copy's end, so the
// cancellation test checks the outcome either way and tries again until one copy was aborted
// in the middle.
#include <doctest/doctest.h>

#include <file_copy.hpp>

#include <stdlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/join_handle.hpp"
#include "rt/runtime.hpp"
#include "rt/sync/event.hpp"
#include "rt/task.hpp"

namespace fs = std::filesystem;

namespace {

/// A folder of its own under the system's temporary folder, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "file-copy-test.XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::generic_category(), "mkdtemp");
        }
        path_ = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    fs::path operator/(const char* name) const { return path_ / name; }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void write_file(const fs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// `size` bytes that differ from one position to the next, so that a chunk out of place shows.
std::string pattern_of(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 131 + i / 251) % 256);
    return bytes;
}

/// Run `body` (a coroutine taking nothing) on a new runtime of each kind.
template <class Body>
void on_each_runtime(Body body) {
    for (std::size_t workers : {0, 2}) {
        CAPTURE(workers);
        rt::Runtime runtime(workers);
        runtime.block_on(body());
    }
}

/// What copy_file threw, if it threw a filesystem_error; the test fails on anything else.
rt::Task<std::optional<fs::filesystem_error>> copy_error(fs::path from, fs::path to) {
    try {
        auto copying = ex::copy_file(std::move(from), std::move(to));
        (void)co_await copying;
    } catch (const fs::filesystem_error& error) {
        co_return error;
    }
    co_return std::nullopt;
}

/// `task`, once `go` is set.
rt::Task<std::uint64_t> after(rt::sync::Event& go, rt::Task<std::uint64_t> task) {
    auto waiting = go.wait();
    co_await waiting;
    co_return co_await task;
}

constexpr std::size_t chunk = 4096;

}  // namespace

TEST_CASE("files of every size are copied byte for byte, and no partial file is left") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, chunk,
                                 3 * chunk, 3 * chunk + 17}) {
            // (No CAPTURE here: doctest keeps it per thread, and a coroutine may resume on
            // another worker after a co_await.)
            const std::string bytes = pattern_of(size);
            write_file(dir / "from", bytes);
            auto copying = ex::copy_file(dir / "from", dir / "to", {}, chunk);
            const std::uint64_t copied = co_await copying;
            CHECK_MESSAGE(copied == size, "size " << size);
            CHECK_MESSAGE(read_file(dir / "to") == bytes,
                          "the copy of " << size << " bytes differs");
            CHECK_MESSAGE(!fs::exists(ex::partial_path(dir / "to")), "size " << size);
        }
    });
}

TEST_CASE("progress is reported once per chunk, rising to the total") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        const std::size_t size = 5 * chunk + 3;
        write_file(dir / "from", pattern_of(size));
        std::vector<ex::Progress> reports;
        auto copying = ex::copy_file(
            dir / "from", dir / "to", [&reports](ex::Progress p) { reports.push_back(p); }, chunk);
        (void)co_await copying;
        REQUIRE(reports.size() == 6);
        for (std::size_t i = 0; i < reports.size(); ++i) {
            CHECK_MESSAGE(reports[i].total == size, "report " << i);
            CHECK_MESSAGE(reports[i].copied == std::min(size, (i + 1) * chunk), "report " << i);
        }
    });
}

TEST_CASE("a missing source fails with its path, and leaves nothing") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        auto failing = copy_error(dir / "missing", dir / "to");
        const std::optional<fs::filesystem_error> error = co_await failing;
        REQUIRE_MESSAGE(error, "copying a missing file did not fail");
        CHECK(error->path1() == dir / "missing");
        CHECK(error->code() == std::errc::no_such_file_or_directory);
        CHECK_FALSE(fs::exists(dir / "to"));
        CHECK_FALSE(fs::exists(ex::partial_path(dir / "to")));
    });
}

TEST_CASE("a source that is a directory fails with its path, and leaves nothing") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        fs::create_directory(dir / "folder");
        auto failing = copy_error(dir / "folder", dir / "to");
        const std::optional<fs::filesystem_error> error = co_await failing;
        REQUIRE_MESSAGE(error, "copying a directory did not fail");
        CHECK(error->path1() == dir / "folder");
        CHECK_FALSE(fs::exists(dir / "to"));
        CHECK_FALSE(fs::exists(ex::partial_path(dir / "to")));
    });
}

TEST_CASE("a destination folder that does not exist fails with the file's path") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        write_file(dir / "from", "bytes");
        auto failing = copy_error(dir / "from", dir.path() / "missing" / "to");
        const std::optional<fs::filesystem_error> error = co_await failing;
        REQUIRE_MESSAGE(error, "copying into a missing folder did not fail");
        CHECK(error->path1().parent_path() == dir.path() / "missing");
        CHECK(error->code() == std::errc::no_such_file_or_directory);
        CHECK(read_file(dir / "from") == "bytes");
    });
}

TEST_CASE("a failure in the middle removes the partial file and keeps the old destination") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        write_file(dir / "from", pattern_of(4 * chunk));
        write_file(dir / "to", "the old contents");
        bool threw = false;
        try {
            auto copying = ex::copy_file(
                dir / "from", dir / "to",
                [](ex::Progress p) {
                    if (p.copied >= 2 * chunk) throw std::runtime_error("out of patience");
                },
                chunk);
            (void)co_await copying;
        } catch (const std::runtime_error& error) {
            threw = std::string(error.what()) == "out of patience";
        }
        CHECK_MESSAGE(threw, "the callback's exception did not reach the caller");
        CHECK_MESSAGE(!fs::exists(ex::partial_path(dir / "to")), "the partial file was left");
        CHECK_MESSAGE(read_file(dir / "to") == "the old contents", "the destination was touched");
    });
}

/// One attempt at cancelling a copy in the middle: the copy aborts its own task at its second
/// report. An abort takes effect where the task next waits, and a step whose pool call was
/// done before the task polled it does not wait: on a fast enough pool, the copy may finish
/// first. So an attempt says whether the cancellation came in time, and checks the outcome
/// either way: aborted, no partial file and the old destination untouched; or finished, with
/// the whole copy in place.
rt::Task<bool> cancelled_in_the_middle(const TempDir& dir, const std::string& bytes) {
    write_file(dir / "to", "the old contents");
    std::optional<rt::JoinHandle<std::uint64_t>> handle;
    rt::sync::Event handle_set;  // the task starts once `handle` is set
    int reports = 0;
    auto copying = ex::copy_file(
        dir / "from", dir / "to",
        [&handle, &reports](ex::Progress) {
            if (++reports == 2) handle->abort();
        },
        chunk);
    auto started = after(handle_set, std::move(copying));
    handle.emplace(rt::spawn(std::move(started)));
    handle_set.set();
    bool aborted = false;
    try {
        (void)co_await *handle;
    } catch (const rt::TaskAborted&) {
        aborted = true;
    }
    CHECK_MESSAGE(!fs::exists(ex::partial_path(dir / "to")), "the partial file was left");
    if (aborted) {
        CHECK_MESSAGE(read_file(dir / "to") == "the old contents", "the destination was touched");
    } else {
        CHECK_MESSAGE(read_file(dir / "to") == bytes, "a copy that was not aborted is not whole");
    }
    co_return aborted;
}

TEST_CASE("a copy cancelled in the middle removes the partial file") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        const std::string bytes = pattern_of(64 * chunk);
        write_file(dir / "from", bytes);
        bool cancelled = false;
        for (int attempt = 0; attempt < 20 && !cancelled; ++attempt) {
            auto attempting = cancelled_in_the_middle(dir, bytes);
            cancelled = co_await attempting;
        }
        CHECK_MESSAGE(cancelled, "in 20 attempts, no copy was still running when it was aborted");
    });
}

TEST_CASE("a source removed during the copy is still copied whole") {
    on_each_runtime([]() -> rt::Task<void> {
        TempDir dir;
        const std::string bytes = pattern_of(6 * chunk + 5);
        write_file(dir / "from", bytes);
        auto copying = ex::copy_file(
            dir / "from", dir / "to",
            [&dir](ex::Progress p) {
                if (p.copied == chunk) fs::remove(dir / "from");
            },
            chunk);
        const std::uint64_t copied = co_await copying;
        CHECK(copied == bytes.size());
        CHECK_FALSE(fs::exists(dir / "from"));
        CHECK(read_file(dir / "to") == bytes);
    });
}

TEST_CASE("a partial file is removed when its guard goes, and kept once the copy is done") {
    TempDir dir;
    write_file(dir / "dropped", "half");
    write_file(dir / "kept", "whole");
    { ex::PartialFile dropped(dir / "dropped"); }
    {
        ex::PartialFile kept(dir / "kept");
        kept.keep();
    }
    { ex::PartialFile never_made(dir / "never made"); }  // nothing to remove: no error either
    CHECK_FALSE(fs::exists(dir / "dropped"));
    CHECK(fs::exists(dir / "kept"));
}
