// The JSON reader (see json.hpp): a recursive-descent parser over the text.
#include "json.hpp"

#include <cstdlib>

namespace tutor {

namespace {

class Parser {
public:
    explicit Parser(std::string_view text) : text_(text) {}

    Json parse_document() {
        Json value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) fail("unexpected text after the value");
        return value;
    }

private:
    static constexpr int max_depth = 256;  // guards the stack against hostile nesting

    [[noreturn]] void fail(const std::string& what) const {
        throw JsonError("bad JSON at offset " + std::to_string(pos_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    void expect(char c) {
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }

    void expect_word(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) fail("expected " + std::string(word));
        pos_ += word.size();
    }

    Json parse_value(int depth) {
        if (depth > max_depth) fail("nested too deeply");
        skip_space();
        Json value;
        switch (peek()) {
            case '{':
                parse_object(value, depth);
                break;
            case '[':
                parse_array(value, depth);
                break;
            case '"':
                value.kind = Json::Kind::string;
                value.string = parse_string();
                break;
            case 't':
                expect_word("true");
                value.kind = Json::Kind::boolean;
                value.boolean = true;
                break;
            case 'f':
                expect_word("false");
                value.kind = Json::Kind::boolean;
                break;
            case 'n':
                expect_word("null");
                break;
            default:
                parse_number(value);
                break;
        }
        return value;
    }

    void parse_object(Json& value, int depth) {
        value.kind = Json::Kind::object;
        expect('{');
        skip_space();
        if (peek() == '}') {
            ++pos_;
            return;
        }
        for (;;) {
            skip_space();
            std::string key = parse_string();
            skip_space();
            expect(':');
            value.members.emplace_back(std::move(key), parse_value(depth + 1));
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            expect('}');
            return;
        }
    }

    void parse_array(Json& value, int depth) {
        value.kind = Json::Kind::array;
        expect('[');
        skip_space();
        if (peek() == ']') {
            ++pos_;
            return;
        }
        for (;;) {
            value.items.push_back(parse_value(depth + 1));
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            expect(']');
            return;
        }
    }

    void parse_number(Json& value) {
        const std::size_t start = pos_;
        while (pos_ < text_.size() &&
               std::string_view("+-0123456789.eE").find(text_[pos_]) != std::string_view::npos) {
            ++pos_;
        }
        if (start == pos_) fail("expected a value");
        const std::string digits(text_.substr(start, pos_ - start));
        char* end = nullptr;
        value.kind = Json::Kind::number;
        value.number = std::strtod(digits.c_str(), &end);
        if (end != digits.c_str() + digits.size()) fail("bad number '" + digits + "'");
    }

    unsigned parse_hex4() {
        if (pos_ + 4 > text_.size()) fail("short \\u escape");
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = text_[pos_++];
            code <<= 4;
            if (c >= '0' && c <= '9')
                code |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f')
                code |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                code |= static_cast<unsigned>(c - 'A' + 10);
            else
                fail("bad \\u escape");
        }
        return code;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += static_cast<char>(code);
        } else if (code < 0x800) {
            out += static_cast<char>(0xC0 | (code >> 6));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += static_cast<char>(0xE0 | (code >> 12));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (code >> 18));
            out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (code & 0x3F));
        }
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= text_.size()) fail("unterminated string");
            const char c = text_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= text_.size()) fail("unterminated escape");
            switch (const char e = text_[pos_++]) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    unsigned code = parse_hex4();
                    // A surrogate pair encodes one code point above U+FFFF. A surrogate not in
                    // a pair encodes nothing (UTF-8 has no form for it): it reads as U+FFFD,
                    // the replacement character, and the escape after it is read on its own.
                    if (code >= 0xD800 && code < 0xDC00 && text_.substr(pos_, 2) == "\\u") {
                        const std::size_t after_high = pos_;
                        pos_ += 2;
                        const unsigned low = parse_hex4();
                        if (low >= 0xDC00 && low < 0xE000) {
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        } else {
                            pos_ = after_high;
                        }
                    }
                    if (code >= 0xD800 && code < 0xE000) code = 0xFFFD;
                    append_utf8(out, code);
                    break;
                }
                default:
                    fail(std::string("bad escape \\") + e);
            }
        }
    }

    std::string_view text_;
    std::size_t pos_ = 0;
};

}  // namespace

Json::Json() = default;
Json::Json(const Json&) = default;
Json::Json(Json&&) noexcept = default;
Json& Json::operator=(const Json&) = default;
Json& Json::operator=(Json&&) noexcept = default;
Json::~Json() = default;

const Json* Json::find(std::string_view key) const {
    for (const auto& [name, value] : members) {
        if (name == key) return &value;
    }
    return nullptr;
}

std::string Json::string_or(std::string_view key, std::string fallback) const {
    const Json* value = find(key);
    return value && value->kind == Kind::string ? value->string : std::move(fallback);
}

Json parse_json(std::string_view text) { return Parser(text).parse_document(); }

}  // namespace tutor
