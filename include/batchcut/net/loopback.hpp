// Whether the API key may travel in clear text to a host: only when every address the host
// resolves to is a loopback address, so the bytes never leave this machine. The text of a
// name ("127.attacker.example") proves nothing; its addresses do.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace batchcut {

// 127.0.0.0/8, ::1, or an IPv4 loopback address mapped into IPv6 (::ffff:127.x.x.x).
bool is_loopback(const boost::asio::ip::address& address);

// Resolves `host` now, synchronously and as the transport does, and returns nullopt when
// every address is loopback; otherwise one line saying why clear text is refused (the host
// does not resolve, or resolves to an address that is not loopback).
std::optional<std::string> clear_text_refusal(const std::string& host, std::uint16_t port);

}  // namespace batchcut
