// Tests of file snapshots, what `tutor watch` compares when it polls: a changed, new or deleted
// file is seen, an editor's own file is not. Each test writes files in a folder of its own under
// the system's temporary folder and removes it; file times are set, never waited for.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "file_snapshot.hpp"
#include "testing/printing.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

/// A new empty folder under the temporary folder, removed with everything in it at the end.
class TemporaryFolder {
public:
    TemporaryFolder() {
        std::string pattern = (fs::temp_directory_path() / "tutor-snapshot-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) FAIL("mkdtemp failed for " << pattern);
        path_ = pattern;
    }
    ~TemporaryFolder() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    TemporaryFolder(const TemporaryFolder&) = delete;
    TemporaryFolder& operator=(const TemporaryFolder&) = delete;

    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

/// Writes `content` to `path` (its folders made first), and gives it the modification time `time`.
void write_file(const fs::path& path, const std::string& content, fs::file_time_type time) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
    fs::last_write_time(path, time);
}

/// A time well in the past, so that a write at "now" could never be mistaken for it.
const fs::file_time_type t0 = fs::file_time_type::clock::now() - 1h;

}  // namespace

TEST_SUITE("file snapshot") {
    TEST_CASE("two snapshots of untouched files differ in nothing") {
        TemporaryFolder dir;
        write_file(dir.path() / "a.hpp", "a", t0);
        write_file(dir.path() / "sub" / "b.hpp", "b", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        CHECK(before.size() == 2);
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before).empty());
    }

    TEST_CASE("a save of the same length is seen by its new modification time") {
        TemporaryFolder dir;
        const auto file = dir.path() / "join_all.hpp";
        write_file(file, "old", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        write_file(file, "new", t0 + 1s);
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before) ==
              std::vector<fs::path>{file});
    }

    TEST_CASE("a save that changes the length is seen even when the time stays the same") {
        TemporaryFolder dir;
        const auto file = dir.path() / "join_all.hpp";
        write_file(file, "old", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        write_file(file, "longer", t0);
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before) ==
              std::vector<fs::path>{file});
    }

    TEST_CASE("a new file is seen, also in a folder that did not exist") {
        TemporaryFolder dir;
        write_file(dir.path() / "a.hpp", "a", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        write_file(dir.path() / "b.hpp", "b", t0);
        write_file(dir.path() / "new" / "deeper" / "c.hpp", "c", t0);
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before) ==
              std::vector<fs::path>{dir.path() / "b.hpp", dir.path() / "new" / "deeper" / "c.hpp"});
    }

    TEST_CASE("a deleted file is seen, also when its whole folder goes") {
        TemporaryFolder dir;
        write_file(dir.path() / "a.hpp", "a", t0);
        write_file(dir.path() / "b.hpp", "b", t0);
        write_file(dir.path() / "sub" / "c.hpp", "c", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        fs::remove(dir.path() / "a.hpp");
        fs::remove_all(dir.path() / "sub");
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before) ==
              std::vector<fs::path>{dir.path() / "a.hpp", dir.path() / "sub" / "c.hpp"});
    }

    TEST_CASE("a file replaced by a rename (how many editors save) is seen") {
        TemporaryFolder dir;
        const auto file = dir.path() / "then.hpp";
        write_file(file, "starter", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        write_file(dir.path() / "then.hpp.tmp", "finished", t0 + 2s);
        fs::rename(dir.path() / "then.hpp.tmp", file);
        CHECK(tutor::FileSnapshot::take(dir.path()).changes_since(before) ==
              std::vector<fs::path>{file});
    }

    TEST_CASE("editors' swap, backup and probe files are not seen") {
        TemporaryFolder dir;
        write_file(dir.path() / "a.hpp", "a", t0);
        const auto before = tutor::FileSnapshot::take(dir.path());
        write_file(dir.path() / ".a.hpp.swp", "vim swap", t0 + 1s);
        write_file(dir.path() / "a.hpp~", "backup", t0 + 1s);
        write_file(dir.path() / "4913", "vim probe", t0 + 1s);
        write_file(dir.path() / "#a.hpp#", "emacs autosave", t0 + 1s);
        write_file(dir.path() / "sub" / ".a.hpp.swx", "vim swap", t0 + 1s);
        const auto after = tutor::FileSnapshot::take(dir.path());
        CHECK(after.size() == 1);
        CHECK(after.changes_since(before).empty());
    }

    TEST_CASE("a folder that does not exist is an empty snapshot, and its files appear later") {
        TemporaryFolder dir;
        const auto missing = dir.path() / "exercises";
        const auto before = tutor::FileSnapshot::take(missing);
        CHECK(before.size() == 0);
        write_file(missing / "a.hpp", "a", t0);
        CHECK(tutor::FileSnapshot::take(missing).changes_since(before) ==
              std::vector<fs::path>{missing / "a.hpp"});
    }

    TEST_CASE("editor noise: names editors write beside the file, not the file itself") {
        CHECK(tutor::is_editor_noise(".join_all.hpp.swp"));
        CHECK(tutor::is_editor_noise("join_all.hpp~"));
        CHECK(tutor::is_editor_noise("4913"));
        CHECK(tutor::is_editor_noise("#join_all.hpp#"));
        CHECK(tutor::is_editor_noise("join_all.hpp.tmp"));
        CHECK_FALSE(tutor::is_editor_noise("join_all.hpp"));
        CHECK_FALSE(tutor::is_editor_noise("test.cpp"));
        CHECK_FALSE(tutor::is_editor_noise("HINTS.md"));
    }
}
