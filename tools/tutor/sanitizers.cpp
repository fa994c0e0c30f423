// The sanitized builds (see sanitizers.hpp).
#include "sanitizers.hpp"

#include <stdexcept>

namespace tutor {

namespace {

std::vector<std::string> options_with(const std::string& sanitizers) {
    return {"-Doptimization=1", "-Ddebug=false", "-Dcpp_args=-g1", "-Db_lundef=false",
            "-Db_sanitize=" + sanitizers};
}

}  // namespace

const SanitizedBuild& sanitized_build(Sanitizer sanitizer) {
    static const SanitizedBuild address{"build-asan",
                                        "--asan",
                                        "AddressSanitizer and UndefinedBehaviorSanitizer",
                                        options_with("address,undefined"),
                                        {{"ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1"},
                                         {"UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1"}}};
    static const SanitizedBuild thread{"build-tsan",
                                       "--tsan",
                                       "ThreadSanitizer",
                                       options_with("thread"),
                                       {{"TSAN_OPTIONS", "halt_on_error=1"}}};
    switch (sanitizer) {
        case Sanitizer::address:
            return address;
        case Sanitizer::thread:
            return thread;
        case Sanitizer::none:
            break;
    }
    throw std::logic_error("sanitized_build: no sanitizer");
}

Sanitizer sanitizer_needed(const Exercise& ex) {
    return ex.chapter >= "02" ? Sanitizer::thread : Sanitizer::address;
}

}  // namespace tutor
