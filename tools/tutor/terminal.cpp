// Terminal detection, styles and raw input (see terminal.hpp).
#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>

namespace tutor {

bool is_terminal(int fd) { return ::isatty(fd) == 1; }

const Style& Style::for_stdout() {
    static const Style style = [] {
        const char* no_color = std::getenv("NO_COLOR");
        const char* term = std::getenv("TERM");
        const bool color = is_terminal(STDOUT_FILENO) && !(no_color && *no_color) &&
                           !(term && std::string(term) == "dumb");
        if (!color) return Style{};
        return Style{"\033[1m",  "\033[2m",  "\033[31m", "\033[32m",
                     "\033[33m", "\033[36m", "\033[0m"};
    }();
    return style;
}

RawInput::RawInput() {
    active_ = is_terminal(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_) == 0;
    resume();
}

RawInput::~RawInput() { suspend(); }

void RawInput::suspend() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

void RawInput::resume() {
    if (!active_) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(STDIN_FILENO, TCSANOW, &raw);
}

}  // namespace tutor
