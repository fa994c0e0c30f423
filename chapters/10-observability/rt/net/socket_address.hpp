// SocketAddress: an IPv4 or IPv6 address and a port, parsed from text ("127.0.0.1:8080",
// "[::1]:8080") without DNS. Bad text is a std::invalid_argument that quotes it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rt::net {

class SocketAddress {
public:
    /// Parse "a.b.c.d:port" or "[v6]:port". Throws std::invalid_argument on anything else.
    static SocketAddress parse(std::string_view text) {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) invalid(text, "no ':port'");
        std::string_view host = text.substr(0, colon);
        const std::string_view port_text = text.substr(colon + 1);
        unsigned port = 0;
        const auto [end, error] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
            port_text.empty()) {
            invalid(text, "the port is not a number from 0 to 65535");
        }
        SocketAddress address;
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
            host = host.substr(1, host.size() - 2);
            auto& v6 = reinterpret_cast<sockaddr_in6&>(address.storage_);
            v6.sin6_family = AF_INET6;
            v6.sin6_port = htons(static_cast<std::uint16_t>(port));
            if (::inet_pton(AF_INET6, std::string(host).c_str(), &v6.sin6_addr) != 1) {
                invalid(text, "not an IPv6 address");
            }
            address.length_ = sizeof(sockaddr_in6);
        } else {
            auto& v4 = reinterpret_cast<sockaddr_in&>(address.storage_);
            v4.sin_family = AF_INET;
            v4.sin_port = htons(static_cast<std::uint16_t>(port));
            if (::inet_pton(AF_INET, std::string(host).c_str(), &v4.sin_addr) != 1) {
                invalid(text, "not an IPv4 address (or an IPv6 one in brackets)");
            }
            address.length_ = sizeof(sockaddr_in);
        }
        return address;
    }

    /// The address a socket is bound or connected to (getsockname, getpeername).
    static SocketAddress of(const sockaddr_storage& storage, socklen_t length) {
        SocketAddress address;
        address.storage_ = storage;
        address.length_ = length;
        return address;
    }

    int family() const noexcept { return storage_.ss_family; }
    const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    socklen_t length() const noexcept { return length_; }

    std::uint16_t port() const noexcept {
        return family() == AF_INET6
                   ? ntohs(reinterpret_cast<const sockaddr_in6&>(storage_).sin6_port)
                   : ntohs(reinterpret_cast<const sockaddr_in&>(storage_).sin_port);
    }

    /// Back to text, in the form parse() reads.
    std::string to_string() const {
        char host[INET6_ADDRSTRLEN] = {};
        if (family() == AF_INET6) {
            ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage_).sin6_addr, host,
                        sizeof host);
            return "[" + std::string(host) + "]:" + std::to_string(port());
        }
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage_).sin_addr, host,
                    sizeof host);
        return std::string(host) + ":" + std::to_string(port());
    }

private:
    [[noreturn]] static void invalid(std::string_view text, const char* why) {
        throw std::invalid_argument("bad socket address '" + std::string(text) + "': " + why);
    }

    sockaddr_storage storage_{};  // a sockaddr_in or sockaddr_in6
    socklen_t length_ = 0;        // how much of storage_ is the address
};

}  // namespace rt::net
