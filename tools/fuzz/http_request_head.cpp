// Fuzz target for http::RequestScanner (chapters/NN/http/request_scanner.hpp; run_fuzzers.py
// builds it once per chapter it fuzzes, with that chapter's folder on the include path). The
// input is a byte stream as a client could send it. Checked, and a violation traps:
//  - the scanner agrees with a plain model of the stream: a request is everything up to the first
//    "\r\n\r\n" after the previous one; it counts while it is at most max_request_bytes long, and
//    the first one longer (ended or not) is reported too_long, and nothing after it is counted;
//  - the verdict does not depend on how the stream is cut: fed in one piece, one byte at a time,
//    in two pieces cut where the input's first bytes say, and in pieces of a size they say;
//  - once too_long is reported it is final (the fuzzer keeps feeding to check that the scanner
//    stays within its own guarantees: no count goes up, nothing is read out of bounds);
//  - pending_bytes() is the length of the unfinished request, at most max_request_bytes + 1.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

#include "http/request_scanner.hpp"

namespace {

/// What the stream holds, according to the model or to the scanner.
struct Verdict {
    std::size_t complete = 0;  // requests accepted, before the first one too long
    bool too_long = false;     // a request passed max_request_bytes
    std::size_t pending = 0;   // bytes of the unfinished request (when not too long)

    bool operator==(const Verdict&) const = default;
};

void check(bool holds, const char* property) {
    if (!holds) {
        std::fprintf(stderr, "property violated: %s\n", property);
        __builtin_trap();
    }
}

/// The model: find each "\r\n\r\n" with string_view::find, no state carried between chunks.
Verdict model(std::string_view stream) {
    Verdict verdict;
    for (;;) {
        const std::size_t end = stream.find("\r\n\r\n");
        const std::size_t length = end == std::string_view::npos ? stream.size() : end + 4;
        if (length > http::max_request_bytes) {
            verdict.too_long = true;
            return verdict;
        }
        if (end == std::string_view::npos) {
            verdict.pending = stream.size();
            return verdict;
        }
        ++verdict.complete;
        stream.remove_prefix(length);
    }
}

/// The scanner fed `stream` in pieces, the i-th of `piece(i)` bytes (at least 1).
template <typename Piece>
Verdict scanned(std::string_view stream, Piece piece) {
    http::RequestScanner scanner;
    Verdict verdict;
    for (std::size_t i = 0; !stream.empty(); ++i) {
        const std::size_t size = piece(i) < stream.size() ? piece(i) : stream.size();
        const http::RequestScanner::Scan scan = scanner.scan(stream.substr(0, size));
        stream.remove_prefix(size);
        if (verdict.too_long) {
            // Past the point the scanner says to stop feeding: nothing more may be counted.
            check(scan.complete == 0 && scan.too_long, "too_long is final");
            continue;
        }
        verdict.complete += scan.complete;
        verdict.too_long = scan.too_long;
        check(scanner.pending_bytes() <= http::max_request_bytes + 1,
              "pending_bytes() stays within the limit + 1");
    }
    if (!verdict.too_long) verdict.pending = scanner.pending_bytes();
    return verdict;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view stream(reinterpret_cast<const char*>(data), size);
    const Verdict expected = model(stream);

    check(scanned(stream, [&](std::size_t) { return stream.size() + 1; }) == expected,
          "one piece agrees with the model");
    check(scanned(stream, [](std::size_t) { return std::size_t{1}; }) == expected,
          "one byte at a time agrees with the model");

    // Where to cut, and a piece size, from the first two bytes (they are part of the stream too).
    const std::size_t cut = size < 2 ? 0 : (data[0] | data[1] << 8) % (size + 1);
    check(scanned(stream, [&](std::size_t i) { return i == 0 ? cut + (cut == 0) : size; }) ==
              expected,
          "two pieces agree with the model");
    const std::size_t piece = size < 1 ? 1 : 1 + data[size - 1] % 64;
    check(scanned(stream, [&](std::size_t) { return piece; }) == expected,
          "pieces of one size agree with the model");
    return 0;
}
