// Exercise 05-01 (starter): ex::LineReader, the lines of a TCP stream however its bytes arrive.
// Compiles; read_line and unfinished, marked TODO(exercise), are yours. The contract: a line split
// across many reads comes out whole, several lines that arrive in one read come out one at a
// time, and the reader never holds more than limit + 1 bytes: a longer line is refused.
//
// What a read gives you: the bytes that are there, from one up to the size of your buffer. A line
// may come in a hundred reads of one byte, or ten lines in one read, or a line and a half: the
// half must wait in the buffer, at the front, for the rest. And a peer that never sends '\n'
// must not make the buffer grow for ever.
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
        // TODO(exercise): loop:
        //  1. if the buffered bytes hold a '\n', hand out the line before it (without a '\r'
        //     just before the '\n'), at once, without reading: lines that arrived together
        //     come out one per call;
        //  2. otherwise the buffered bytes are the beginning of a line. If they already fill
        //     limit + 1 bytes, throw LineTooLong(limit_). If the stream has ended, co_return
        //     std::nullopt;
        //  3. otherwise move those bytes to the front of the buffer, and
        //     co_await stream_->read(...) into the room after them, asking for no more than the
        //     room left. A read of 0 means the stream has ended; loop either way.
        (void)stream_;  // the members below, unused until you use them
        (void)limit_;
        (void)scanned_;
        (void)ended_;
        co_return std::nullopt;
    }

    /// Bytes of a line begun and not finished: after read_line answered std::nullopt, the
    /// length of the unfinished line the stream ended with (0 if it ended between lines).
    std::size_t unfinished() const {
        // TODO(exercise): with the members below, end_ - start_.
        (void)start_;
        (void)end_;
        return 0;
    }

private:
    // A suggestion for the state you need; change it as you like (the tests only use the
    // public interface).
    rt::net::TcpStream* stream_;  // read from; outlives the reader
    std::size_t limit_;           // the longest line, before its '\n'
    std::vector<char> buffer_;    // limit + 1 bytes; [start_, end_) read and not handed out
    std::size_t start_ = 0;       // where the next line begins
    std::size_t end_ = 0;         // end of the bytes read
    std::size_t scanned_ = 0;     // [start_, scanned_) holds no '\n': no need to search it again
    bool ended_ = false;          // a read answered 0: the peer closed its side
};

}  // namespace ex
