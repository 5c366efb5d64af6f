#include "batchcut/net/loopback.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace batchcut {

namespace asio = boost::asio;

bool is_loopback(const asio::ip::address& address) {
  if (address.is_v4()) return address.to_v4().is_loopback();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();
}

std::optional<std::string> clear_text_refusal(const std::string& host, std::uint16_t port) {
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty())
    return host + " does not resolve" + (ec ? ": " + ec.message() : std::string());
  for (const auto& entry : results) {
    const auto address = entry.endpoint().address();
    if (!is_loopback(address))
      return host + " resolves to " + address.to_string() + ", which is not a loopback address";
  }
  return std::nullopt;
}

}  // namespace batchcut
