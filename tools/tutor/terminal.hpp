// The terminal: whether output goes to one, the few ANSI styles the tutor uses, and a raw
// input mode (keys one at a time, no echo) that its guard restores.
#pragma once

#include <termios.h>

#include <string>

namespace tutor {

/// True when file descriptor `fd` is a terminal.
bool is_terminal(int fd);

/// ANSI styles, empty strings when stdout is not a terminal or NO_COLOR is set.
struct Style {
    std::string bold, dim, red, green, yellow, cyan, reset;

    static const Style& for_stdout();
};

/// While alive, stdin (a terminal) delivers each key at once and does not echo it; Ctrl-C
/// still raises SIGINT. The previous settings come back when it is destroyed. Does nothing
/// when stdin is not a terminal.
class RawInput {
public:
    RawInput();
    ~RawInput();
    RawInput(const RawInput&) = delete;
    RawInput& operator=(const RawInput&) = delete;

    /// Puts the previous settings back for a while, for a program that reads the terminal
    /// line by line or sets it up itself (an editor).
    void suspend();
    /// Keys one at a time again: after suspend(), or after a stop and `fg` (SIGCONT), when the
    /// shell has put its own settings back.
    void resume();

private:
    termios saved_{};      // the settings before, put back by suspend() and the destructor
    bool active_ = false;  // whether stdin is a terminal whose settings were read
};

}  // namespace tutor
