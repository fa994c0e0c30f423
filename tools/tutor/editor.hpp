// The learner's editor, as git finds it: $VISUAL, else $EDITOR, a shell command that may carry
// its own options ("code --wait", "emacs -nw"). Opening files in it waits until it exits.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tutor {

/// The editor's command, or nullopt when neither $VISUAL nor $EDITOR is set (or both empty).
std::optional<std::string> editor_command();

/// Runs `command` with `files` as its last arguments through /bin/sh, in `folder`, with
/// tutor's stdin, stdout and stderr, and waits for it; returns its exit code. Meanwhile tutor
/// ignores SIGINT: Ctrl-C belongs to the editor. Throws when /bin/sh cannot be started.
int open_in_editor(const std::string& command, const std::vector<std::filesystem::path>& files,
                   const std::filesystem::path& folder);

}  // namespace tutor
