// Writes JSON text to a FILE (new in chapter 10): the snapshot (rt/metrics/snapshot.hpp) and
// the timeline (rt/metrics/trace.hpp). Only what they need: raw text, escaped strings, numbers.
// Strings are escaped as RFC 8259 asks (quote, backslash, control characters); task names come
// from the program and may hold anything.
#pragma once

#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace rt::detail {

class JsonWriter {
public:
    explicit JsonWriter(std::FILE* file) noexcept : file_(file) {}

    void raw(std::string_view text) { std::fwrite(text.data(), 1, text.size(), file_); }

    void string(std::string_view text) {
        std::fputc('"', file_);
        for (const char c : text) {
            const auto byte = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\') {
                std::fputc('\\', file_);
                std::fputc(c, file_);
            } else if (byte < 0x20) {
                std::fprintf(file_, "\\u%04x", static_cast<unsigned>(byte));
            } else {
                std::fputc(c, file_);
            }
        }
        std::fputc('"', file_);
    }

    void number(std::uint64_t value) { std::fprintf(file_, "%" PRIu64, value); }
    void number(std::int64_t value) { std::fprintf(file_, "%" PRId64, value); }
    void number(std::uint32_t value) { number(static_cast<std::uint64_t>(value)); }
    /// Three decimals: milliseconds to the microsecond, microseconds to the nanosecond. JSON
    /// has no NaN or infinity: 0 stands in for them.
    void number(double value) {
        if (!std::isfinite(value)) value = 0;
        std::fprintf(file_, "%.3f", value);
    }

    /// `"key":`, after a comma unless it is the object's first member.
    void key(std::string_view name, bool first = false) {
        if (!first) std::fputc(',', file_);
        string(name);
        std::fputc(':', file_);
    }

    bool ok() const noexcept { return std::ferror(file_) == 0; }

private:
    std::FILE* file_;
};

}  // namespace rt::detail
