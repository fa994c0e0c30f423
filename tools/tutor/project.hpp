// The project as the tutor sees it: chapters (chapters/NN-name/ and the planned stages) and
// exercises (exercises/NN-chapter/EE-name/), found on disk, and looked up by what a learner types.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "names.hpp"

namespace tutor {

namespace fs = std::filesystem;

/// A chapter: present (its folder exists) or coming (planned, not written yet).
struct Chapter {
    std::string number;       ///< "01"
    std::string name;         ///< "naive-executor"
    std::string description;  ///< its README's title, or the plan's summary
    bool present = false;

    std::string folder() const { return number + "-" + name; }  ///< "01-naive-executor"
};

/// An exercise: the folder exercises/<chapter_folder>/<number>-<name>/.
struct Exercise {
    std::string chapter;         ///< "01"
    std::string chapter_folder;  ///< "01-naive-executor"
    std::string number;          ///< "02"
    std::string name;            ///< "then"
    std::string description;     ///< its README's title, or the name in words

    std::string id() const { return chapter + "-" + number; }  ///< "01-02"
    /// "01-naive-executor/02-then": the folder under exercises/ and under solutions/.
    std::string folder() const { return chapter_folder + "/" + number + "-" + name; }
};

class Project {
public:
    /// Reads chapters/ and exercises/ under `root`.
    static Project discover(const fs::path& root);

    const fs::path& root() const { return root_; }
    fs::path build_dir() const { return root_ / "build"; }
    /// build/tutor/: what the tutor remembers (progress, hints shown).
    fs::path state_dir() const { return build_dir() / "tutor"; }
    /// Where `tutor` (the script) exports the exercises as committed.
    fs::path starters_dir() const { return build_dir() / "starters" / "exercises"; }

    const std::vector<Chapter>& chapters() const { return chapters_; }
    const std::vector<Exercise>& exercises() const { return exercises_; }

    /// The chapter numbered `number`, or nullptr.
    const Chapter* chapter(std::string_view number) const;
    /// The exercises of chapter `number`, in order.
    std::vector<const Exercise*> exercises_of(std::string_view number) const;

    /// Root-relative paths, as printed to the learner.
    std::string exercise_path(const Exercise& ex) const { return "exercises/" + ex.folder(); }
    std::string solution_path(const Exercise& ex) const { return "solutions/" + ex.folder(); }
    std::string chapter_path(const Chapter& ch) const { return "chapters/" + ch.folder(); }

    /// The exercise a learner named; throws UsageError naming the nearest ones.
    const Exercise& find_exercise(std::string_view query) const;
    /// The present chapter a learner named; throws UsageError (also for a coming chapter).
    const Chapter& find_chapter(std::string_view query) const;
    /// A chapter or an exercise, for `tutor run`; throws UsageError.
    std::variant<const Chapter*, const Exercise*> find_runnable(std::string_view query) const;

private:
    std::vector<NamedItem> exercise_names() const;
    std::vector<NamedItem> present_chapter_names() const;
    /// Throws the UsageError for a coming chapter named by `query`, if it names one.
    void reject_coming_chapter(std::string_view query) const;

    fs::path root_;
    std::vector<Chapter> chapters_;    // by number, present and coming
    std::vector<Exercise> exercises_;  // by chapter, then by number
};

/// The content of a file, or an empty string when it cannot be read.
std::string read_text_file(const fs::path& path);

}  // namespace tutor
