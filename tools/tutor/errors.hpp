// The two ways a tutor command fails: a usage error (bad input, exit code 2) and a failure
// of the thing it was asked to do (exit code 1). main() turns both into a one-line message.
#pragma once

#include <stdexcept>
#include <string>

namespace tutor {

/// Exit code for a usage error (unknown exercise, bad option), as in support/cli.hpp.
inline constexpr int usage_exit_code = 2;

/// Bad input from the learner: main() prints the message and exits 2.
class UsageError : public std::runtime_error {
public:
    explicit UsageError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace tutor
