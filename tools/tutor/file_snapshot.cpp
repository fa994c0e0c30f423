// File snapshots (see file_snapshot.hpp).
#include "file_snapshot.hpp"

namespace tutor {

namespace fs = std::filesystem;

bool is_editor_noise(std::string_view name) {
    return name.empty() || name.front() == '.' || name.front() == '#' || name.back() == '~' ||
           name == "4913" || name.ends_with(".swp") || name.ends_with(".swx") ||
           name.ends_with(".tmp");
}

namespace {

/// Adds the files of `dir` and of the folders under it to `files`. A folder that cannot be
/// read, or a file that vanishes between being listed and being looked at, is left out.
void add_folder(const fs::path& dir, std::map<fs::path, FileStamp>& files) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code entry_ec;
        if (it->is_directory(entry_ec) && !it->is_symlink(entry_ec)) {
            add_folder(it->path(), files);
            continue;
        }
        if (!it->is_regular_file(entry_ec) || is_editor_noise(it->path().filename().native()))
            continue;
        FileStamp stamp;
        stamp.size = it->file_size(entry_ec);
        if (entry_ec) continue;
        stamp.modified = it->last_write_time(entry_ec);
        if (entry_ec) continue;
        files.emplace(it->path(), stamp);
    }
}

}  // namespace

FileSnapshot FileSnapshot::take(const fs::path& root) {
    FileSnapshot snapshot;
    add_folder(root, snapshot.files_);
    return snapshot;
}

std::vector<fs::path> FileSnapshot::changes_since(const FileSnapshot& earlier) const {
    // Both maps are in path order: one merge-like walk finds every difference.
    std::vector<fs::path> changes;
    auto now = files_.begin();
    auto before = earlier.files_.begin();
    while (now != files_.end() || before != earlier.files_.end()) {
        if (before == earlier.files_.end() || (now != files_.end() && now->first < before->first)) {
            changes.push_back((now++)->first);  // new
        } else if (now == files_.end() || before->first < now->first) {
            changes.push_back((before++)->first);  // deleted
        } else {
            if (now->second != before->second) changes.push_back(now->first);  // changed
            ++now;
            ++before;
        }
    }
    return changes;
}

}  // namespace tutor
