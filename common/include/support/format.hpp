// Number formatting shared by the demos and solution programs, so that a count in the
// millions reads at a glance.
#pragma once

#include <cstdint>
#include <string>

namespace support {

/// 39105079 -> "39,105,079".
inline std::string with_commas(std::uint64_t n) {
    std::string digits = std::to_string(n);
    for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) {
        digits.insert(static_cast<std::size_t>(i), ",");
    }
    return digits;
}

}  // namespace support
