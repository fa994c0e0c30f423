// Finding a sanitizer's report (AddressSanitizer, LeakSanitizer, UndefinedBehaviorSanitizer,
// ThreadSanitizer) in a test program's output, to show it first: it says more about a crash
// than the test's own output, which it usually cuts short.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tutor {

/// The first lines of the first sanitizer report in `output`, from the line that announces it,
/// at most `max_lines`, with `root` + "/" taken out of paths; empty when there is none.
std::vector<std::string> sanitizer_report(std::string_view output, std::string_view root,
                                          std::size_t max_lines = 40);

}  // namespace tutor
