// What the tutor asks git: which commit holds the exercises as committed (the starters) and
// the starter files of an exercise. Nothing here changes git's index or history.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tutor {

/// The commit the starters come from: "@{upstream}" when the branch has one (so the
/// learner's own commits never replace the starters), else "HEAD"; nullopt when `root` is
/// not the top of a git checkout with at least one commit.
std::optional<std::string> starter_ref(const std::filesystem::path& root);

/// The files under `folder` (root-relative) at `ref`, root-relative.
std::vector<std::string> files_at(const std::filesystem::path& root, const std::string& ref,
                                  const std::string& folder);

/// The content of `path` (root-relative) at `ref`.
std::string file_at(const std::filesystem::path& root, const std::string& ref,
                    const std::string& path);

}  // namespace tutor
