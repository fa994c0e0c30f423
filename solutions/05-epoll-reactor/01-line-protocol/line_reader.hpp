// Exercise 05-01 (solution): ex::LineReader, the lines of a TCP stream however its bytes arrive.
// A line split across many reads comes out whole, several lines that arrive in one read come out
// one at a time, and the reader never holds more than limit + 1 bytes: a longer line is refused.
//
// The buffer. `buffer_` has room for limit + 1 bytes, allocated once. Bytes read and not yet
// handed out are buffer_[start_, end_); the next line begins at start_. read_line:
//  1. looks for '\n' in what is buffered, from where the last search stopped (scanned_), so no
//     byte is searched twice, and hands out a complete line at once, without reading: several
//     lines that arrived together come out one per call;
//  2. finding none, knows that buffer_[start_, end_) is the beginning of a line. If it fills
//     the whole buffer (limit + 1 bytes and still no '\n'), the line is too long: LineTooLong,
//     without reading one byte more;
//  3. otherwise moves that unfinished line to the front of the buffer, and reads into the room
//     after it. A read returns what is there, from one byte up: a line may take a hundred
//     reads, and the unfinished part simply waits in the buffer for the next one;
//  4. a read of 0 is the end of the stream: the lines already buffered are still handed out,
//     then std::nullopt. What is left then is a line the peer never finished; it is dropped,
//     and unfinished() tells its length.
// Asking each read for the room left, and no more, is what bounds the memory: whatever the peer
// sends, a connection costs limit + 1 bytes of buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "rt/coroutine.hpp"
#include "rt/net/tcp_stream.hpp"

namespace ex {

/// The longest line accepted by default, in bytes: everything before its "\n", a "\r" included.
inline constexpr std::size_t max_line_length = 4096;

/// A line longer than the reader's limit: the peer may never end it, so it is refused.
class LineTooLong : public std::runtime_error {
public:
    explicit LineTooLong(std::size_t limit)
        : std::runtime_error("a line is longer than " + std::to_string(limit) + " bytes") {}
};

/// Reads a stream line by line. It keeps a pointer to the stream, which must outlive it, and is
/// the stream's only reader (bytes it buffered are not in the stream any more).
class LineReader {
public:
    explicit LineReader(rt::net::TcpStream& stream, std::size_t limit = max_line_length)
        : stream_(&stream), limit_(limit), buffer_(limit + 1) {}

    /// The next line, without its "\n" or "\r\n". std::nullopt once the stream has ended and
    /// every complete line was handed out (an unfinished last line is dropped). Throws
    /// LineTooLong when a line is longer than the limit, and std::system_error when a read
    /// fails (a reset): either way the reader is done.
    rt::Task<std::optional<std::string>> read_line() {
        for (;;) {
            // Step 1: a complete line in the buffer comes out without reading.
            const auto first = buffer_.begin();
            const auto newline = std::find(first + static_cast<std::ptrdiff_t>(scanned_),
                                           first + static_cast<std::ptrdiff_t>(end_), '\n');
            if (newline != first + static_cast<std::ptrdiff_t>(end_)) {
                const auto at = static_cast<std::size_t>(newline - first);
                std::size_t stop = at;
                if (stop > start_ && buffer_[stop - 1] == '\r') --stop;
                std::string line(buffer_.data() + start_, stop - start_);
                start_ = at + 1;
                scanned_ = start_;
                co_return line;  // at most limit bytes: it fitted in the buffer with its '\n'
            }
            scanned_ = end_;

            // Step 2: an unfinished line that fills the buffer can only grow: refuse it.
            if (end_ - start_ > limit_) throw LineTooLong(limit_);
            if (ended_) co_return std::nullopt;  // step 4: every complete line is out

            // Step 3: the unfinished line to the front, then read into the room after it.
            std::copy(first + static_cast<std::ptrdiff_t>(start_),
                      first + static_cast<std::ptrdiff_t>(end_), first);
            end_ -= start_;
            scanned_ = end_;
            start_ = 0;
            const std::size_t got =
                co_await stream_->read(std::span(buffer_.data() + end_, buffer_.size() - end_));
            if (got == 0) ended_ = true;
            end_ += got;
        }
    }

    /// Bytes of a line begun and not finished: after read_line answered std::nullopt, the
    /// length of the unfinished line the stream ended with (0 if it ended between lines).
    std::size_t unfinished() const { return end_ - start_; }

private:
    rt::net::TcpStream* stream_;  // read from; outlives the reader
    std::size_t limit_;           // the longest line, before its '\n'
    std::vector<char> buffer_;    // limit + 1 bytes; [start_, end_) read and not handed out
    std::size_t start_ = 0;       // where the next line begins
    std::size_t end_ = 0;         // end of the bytes read
    std::size_t scanned_ = 0;     // [start_, scanned_) holds no '\n'
    bool ended_ = false;          // a read answered 0: the peer closed its side
};

}  // namespace ex
