// Fuzz target for tutor's JSON reader (tools/tutor/json.cpp), which reads what meson writes and
// so whatever the tests printed. The input is the text given to parse_json. Checked, and a
// violation traps:
//  - text it refuses throws JsonError, never another exception and never a crash;
//  - text it accepts round-trips: the value written back as JSON (write() below) reads back as
//    the same value, and writing that gives the same text;
//  - accepted text followed by white space is accepted as the same value, and followed by
//    anything else is refused: one value, and nothing after it;
//  - every string it reads from valid UTF-8 is valid UTF-8, \u escapes included (a surrogate
//    pair is one code point; a lone surrogate is U+FFFD).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "json.hpp"

namespace {

using tutor::Json;

void check(bool holds, const char* property) {
    if (!holds) {
        std::fprintf(stderr, "property violated: %s\n", property);
        __builtin_trap();
    }
}

/// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto byte = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        char32_t code = 0;
        if (byte < 0x80) {
            ++i;
            continue;
        } else if ((byte & 0xE0) == 0xC0) {
            length = 2;
            code = byte & 0x1F;
        } else if ((byte & 0xF0) == 0xE0) {
            length = 3;
            code = byte & 0x0F;
        } else if ((byte & 0xF8) == 0xF0) {
            length = 4;
            code = byte & 0x07;
        } else {
            return false;
        }
        if (i + length > text.size()) return false;
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xC0) != 0x80) return false;
            code = code << 6 | (next & 0x3F);
        }
        const char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (code < least[length] || code > 0x10FFFF || (code >= 0xD800 && code < 0xE000)) {
            return false;
        }
        i += length;
    }
    return true;
}

/// Every string of `value` (keys included) is valid UTF-8.
bool strings_valid_utf8(const Json& value) {
    if (value.kind == Json::Kind::string) return valid_utf8(value.string);
    for (const Json& item : value.items) {
        if (!strings_valid_utf8(item)) return false;
    }
    for (const auto& [key, member] : value.members) {
        if (!valid_utf8(key) || !strings_valid_utf8(member)) return false;
    }
    return true;
}

void write_string(std::string& out, std::string_view text) {
    out += '"';
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char escape[8];
            std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
            out += escape;
        } else {
            out += c;
        }
    }
    out += '"';
}

/// `value` as JSON text; an infinite number (1e999 reads as one) as 1e999 or -1e999.
void write(std::string& out, const Json& value) {
    switch (value.kind) {
        case Json::Kind::null:
            out += "null";
            return;
        case Json::Kind::boolean:
            out += value.boolean ? "true" : "false";
            return;
        case Json::Kind::number: {
            if (std::isinf(value.number)) {
                out += value.number < 0 ? "-1e999" : "1e999";
                return;
            }
            char number[32];
            std::snprintf(number, sizeof number, "%.17g", value.number);
            out += number;
            return;
        }
        case Json::Kind::string:
            write_string(out, value.string);
            return;
        case Json::Kind::array:
            out += '[';
            for (std::size_t i = 0; i < value.items.size(); ++i) {
                if (i > 0) out += ',';
                write(out, value.items[i]);
            }
            out += ']';
            return;
        case Json::Kind::object:
            out += '{';
            for (std::size_t i = 0; i < value.members.size(); ++i) {
                if (i > 0) out += ',';
                write_string(out, value.members[i].first);
                out += ':';
                write(out, value.members[i].second);
            }
            out += '}';
            return;
    }
}

std::string written(const Json& value) {
    std::string out;
    write(out, value);
    return out;
}

bool same(const Json& a, const Json& b) {
    if (a.kind != b.kind) return false;
    switch (a.kind) {
        case Json::Kind::null:
            return true;
        case Json::Kind::boolean:
            return a.boolean == b.boolean;
        case Json::Kind::number:
            return a.number == b.number;  // strtod never reads a NaN from digits
        case Json::Kind::string:
            return a.string == b.string;
        case Json::Kind::array:
            if (a.items.size() != b.items.size()) return false;
            for (std::size_t i = 0; i < a.items.size(); ++i) {
                if (!same(a.items[i], b.items[i])) return false;
            }
            return true;
        case Json::Kind::object:
            if (a.members.size() != b.members.size()) return false;
            for (std::size_t i = 0; i < a.members.size(); ++i) {
                if (a.members[i].first != b.members[i].first) return false;
                if (!same(a.members[i].second, b.members[i].second)) return false;
            }
            return true;
    }
    return false;
}

/// The value `text` holds, or false when the reader refuses it (with JsonError: any other
/// exception escapes, and libFuzzer reports it).
bool parsed(std::string_view text, Json& value) {
    try {
        value = tutor::parse_json(text);
        return true;
    } catch (const tutor::JsonError&) {
        return false;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    Json value;
    if (!parsed(text, value)) return 0;

    const std::string once = written(value);
    Json again;
    check(parsed(once, again), "what was read, written back, reads");
    check(same(value, again), "what was read, written back, reads as the same value");
    check(written(again) == once, "writing is stable");

    Json spaced;
    check(parsed(text + " \t\r\n", spaced) && same(value, spaced),
          "trailing white space changes nothing");
    Json extra;
    check(!parsed(text + " 0", extra), "a second value after the first is refused");
    check(!parsed(text + "x", extra), "text after the value is refused");

    if (valid_utf8(text)) check(strings_valid_utf8(value), "valid UTF-8 in, valid UTF-8 out");
    return 0;
}
