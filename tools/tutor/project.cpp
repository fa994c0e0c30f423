// Discovery of chapters and exercises, and name lookup (see project.hpp).
#include "project.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "errors.hpp"
#include "markdown.hpp"
#include "stages.hpp"

namespace tutor {

namespace {

/// Splits "01-naive-executor" into "01" and "naive-executor"; false for other names.
bool split_numbered(const std::string& folder, std::string& number, std::string& name) {
    if (folder.size() < 4 || !std::isdigit(static_cast<unsigned char>(folder[0])) ||
        !std::isdigit(static_cast<unsigned char>(folder[1])) || folder[2] != '-') {
        return false;
    }
    number = folder.substr(0, 2);
    name = folder.substr(3);
    return true;
}

/// The numbered sub-folders of `dir`, sorted by name.
std::vector<fs::path> numbered_folders(const fs::path& dir) {
    std::vector<fs::path> result;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::string number, name;
        if (entry.is_directory(ec) &&
            split_numbered(entry.path().filename().string(), number, name)) {
            result.push_back(entry.path());
        }
    }
    std::sort(result.begin(), result.end());
    return result;
}

/// "join-all" -> "join all"
std::string in_words(std::string name) {
    std::replace(name.begin(), name.end(), '-', ' ');
    std::replace(name.begin(), name.end(), '_', ' ');
    return name;
}

std::optional<std::string> readme_title(const fs::path& folder) {
    return first_heading(read_text_file(folder / "README.md"));
}

std::string nearest_text(std::span<const NamedItem> items, std::string_view query) {
    if (items.empty()) return "";
    const auto nearest = nearest_items(items, query);
    return "\n  nearest: " + describe_items(items, nearest) + "\n  (./tutor list shows them all)";
}

}  // namespace

std::string read_text_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Project Project::discover(const fs::path& root) {
    Project project;
    project.root_ = root;

    for (const auto& dir : numbered_folders(root / "chapters")) {
        Chapter ch;
        split_numbered(dir.filename().string(), ch.number, ch.name);
        ch.present = true;
        if (auto title = readme_title(dir)) {
            ch.description = strip_chapter_prefix(*title);
        } else {
            ch.description = in_words(ch.name);
            for (const auto& stage : planned_stages) {
                if (stage.number == ch.number && stage.name == ch.name)
                    ch.description = stage.summary;
            }
        }
        if (project.chapter(ch.number) == nullptr) project.chapters_.push_back(std::move(ch));
    }
    for (const auto& stage : planned_stages) {
        if (project.chapter(stage.number) != nullptr) continue;
        project.chapters_.push_back(Chapter{std::string(stage.number), std::string(stage.name),
                                            std::string(stage.summary), false});
    }
    std::sort(project.chapters_.begin(), project.chapters_.end(),
              [](const Chapter& a, const Chapter& b) { return a.number < b.number; });

    for (const auto& chapter_dir : numbered_folders(root / "exercises")) {
        std::string chapter, chapter_name;
        split_numbered(chapter_dir.filename().string(), chapter, chapter_name);
        for (const auto& dir : numbered_folders(chapter_dir)) {
            Exercise ex;
            ex.chapter = chapter;
            ex.chapter_folder = chapter_dir.filename().string();
            split_numbered(dir.filename().string(), ex.number, ex.name);
            const auto title = readme_title(dir);
            ex.description = title ? strip_id_prefix(*title, ex.id()) : in_words(ex.name);
            project.exercises_.push_back(std::move(ex));
        }
    }
    return project;
}

const Chapter* Project::chapter(std::string_view number) const {
    for (const auto& ch : chapters_) {
        if (ch.number == number) return &ch;
    }
    return nullptr;
}

std::vector<const Exercise*> Project::exercises_of(std::string_view number) const {
    std::vector<const Exercise*> result;
    for (const auto& ex : exercises_) {
        if (ex.chapter == number) result.push_back(&ex);
    }
    return result;
}

std::vector<NamedItem> Project::exercise_names() const {
    std::vector<NamedItem> names;
    for (const auto& ex : exercises_) names.push_back({ex.id(), ex.name});
    return names;
}

std::vector<NamedItem> Project::present_chapter_names() const {
    std::vector<NamedItem> names;
    for (const auto& ch : chapters_) {
        if (ch.present) names.push_back({ch.number, ch.name});
    }
    return names;
}

void Project::reject_coming_chapter(std::string_view query) const {
    std::vector<NamedItem> coming;
    std::vector<const Chapter*> chapters;
    for (const auto& ch : chapters_) {
        if (!ch.present) {
            coming.push_back({ch.number, ch.name});
            chapters.push_back(&ch);
        }
    }
    const auto match = find_item(coming, query);
    if (!match.index) return;
    const Chapter& ch = *chapters[*match.index];
    throw UsageError("chapter " + ch.number + " (" + ch.name +
                     ") is not written yet; it is coming: " + ch.description);
}

const Exercise& Project::find_exercise(std::string_view query) const {
    const auto names = exercise_names();
    const auto match = find_item(names, query);
    if (match.index) return exercises_[*match.index];
    if (!match.ambiguous.empty()) {
        throw UsageError("'" + std::string(query) + "' names more than one exercise: " +
                         describe_items(names, match.ambiguous) + "; use the NN-EE form");
    }
    if (names.empty())
        throw UsageError("no exercise '" + std::string(query) + "': there are no exercises yet");
    const auto chapters = present_chapter_names();
    if (const auto chapter = find_item(chapters, query); chapter.index) {
        const std::string number = chapters[*chapter.index].id;
        std::vector<std::size_t> of_chapter;
        for (std::size_t i = 0; i < exercises_.size(); ++i) {
            if (exercises_[i].chapter == number) of_chapter.push_back(i);
        }
        throw UsageError(
            "'" + std::string(query) + "' is chapter " + number + ", not an exercise; " +
            (of_chapter.empty() ? "it has no exercises yet"
                                : "its exercises: " + describe_items(names, of_chapter)));
    }
    throw UsageError("no exercise '" + std::string(query) + "'" + nearest_text(names, query));
}

const Chapter& Project::find_chapter(std::string_view query) const {
    const auto names = present_chapter_names();
    const auto match = find_item(names, query);
    if (match.index) return *chapter(names[*match.index].id);
    reject_coming_chapter(query);
    throw UsageError("no chapter '" + std::string(query) + "'" + nearest_text(names, query));
}

std::variant<const Chapter*, const Exercise*> Project::find_runnable(std::string_view query) const {
    const auto chapter_names = present_chapter_names();
    if (const auto match = find_item(chapter_names, query); match.index) {
        return chapter(chapter_names[*match.index].id);
    }
    const auto names = exercise_names();
    const auto match = find_item(names, query);
    if (match.index) return &exercises_[*match.index];
    if (!match.ambiguous.empty()) {
        throw UsageError("'" + std::string(query) + "' names more than one exercise: " +
                         describe_items(names, match.ambiguous) + "; use the NN-EE form");
    }
    reject_coming_chapter(query);
    std::vector<NamedItem> all = chapter_names;
    all.insert(all.end(), names.begin(), names.end());
    throw UsageError("no chapter or exercise '" + std::string(query) + "'" +
                     nearest_text(all, query));
}

}  // namespace tutor
