// RequestScanner: finds where HTTP/1.1 requests end in a byte stream that arrives in chunks
// of any size. Guarantees: a request is counted once its "\r\n\r\n" has arrived, wherever the
// chunks split it (even inside the "\r\n\r\n"); a request longer than the limit is reported
// as soon as its length passes the limit, without waiting for its end.
//
// What a request is here: everything up to and including the first "\r\n\r\n" (the end of
// the headers), as the benchmarks' `http` workload defines it. The scanner never looks at the
// method, the path or the headers, and keeps no bytes: it carries from one chunk to the next
// only how much of "\r\n\r\n" the stream ended with and how long the current request is so
// far. So the bytes of a body (a POST with Content-Length) are not recognised as a body: they
// are counted as the start of the next request (server.hpp says what that means for a client).
#pragma once

#include <cstddef>
#include <string_view>

namespace http {

/// The longest request accepted, "\r\n\r\n" included: 8 KiB, the default limit of many
/// servers (nginx's large_client_header_buffers, Node's --max-http-header-size). A request
/// that passes it is an error, and the connection is closed.
inline constexpr std::size_t max_request_bytes = 8 * 1024;

class RequestScanner {
public:
    /// What one chunk held.
    struct Scan {
        std::size_t complete = 0;  // requests whose end was in this chunk
        bool too_long = false;     // the request after those passed max_request_bytes
    };

    /// Feed the next chunk of the stream. Once too_long is reported the stream is not in a
    /// state anyone can recover from: feed nothing more.
    Scan scan(std::string_view chunk) noexcept {
        Scan result;
        for (const char byte : chunk) {
            ++length_;
            matched_ = next_matched(matched_, byte);
            if (matched_ == terminator_bytes) {  // the end of a request
                if (length_ > max_request_bytes) break;
                ++result.complete;
                matched_ = 0;
                length_ = 0;
            } else if (length_ > max_request_bytes) {
                break;  // no need to see the end of it: it is too long already
            }
        }
        result.too_long = length_ > max_request_bytes;
        return result;
    }

    /// Bytes received of the request not yet complete (0 between requests).
    std::size_t pending_bytes() const noexcept { return length_; }

private:
    static constexpr int terminator_bytes = 4;  // "\r\n\r\n"

    /// How much of "\r\n\r\n" the stream ends with after `byte`, given that it ended with
    /// `matched` bytes of it before (0 to 3). A '\r' always starts a new match ("\r\n\r\r\n\r\n"
    /// ends at its last byte); any other mismatch starts from nothing.
    static constexpr int next_matched(int matched, char byte) noexcept {
        if (byte == '\r') return matched == 2 ? 3 : 1;
        if (byte == '\n') return matched == 1 ? 2 : matched == 3 ? 4 : 0;
        return 0;
    }

    int matched_ = 0;         // bytes of "\r\n\r\n" at the end of what was fed (0 to 3)
    std::size_t length_ = 0;  // bytes of the current request fed so far
};

}  // namespace http
