// Reading one HTTP/1.1 answer off a stream, for the transport (http_transport.cpp) and its
// fuzzer (tests/fuzz): the same code reads both. Beast's parser with limits on the header and
// the body; interim 1xx answers skipped; every failure mapped to a TransportError.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>

#include "batchcut/net/api.hpp"

namespace batchcut {

struct AnswerLimits {
  std::uint32_t max_header = 128 * 1024;
  std::uint64_t max_body = 1 << 20;
};

// Reads the final answer to a request already sent into `r` (status, Retry-After, body; or
// error and error_text, keeping what arrived). An interim 1xx answer (100 Continue, 101, 103
// Early Hints) is not the answer: read on, or its real answer would be left on the connection
// for the next job to take as its own. Returns whether the connection may be used again.
template <class Stream>
boost::asio::awaitable<bool> read_answer(Stream& stream, boost::beast::flat_buffer& buffer, AnswerLimits limits,
                                         AttemptResult& r) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  constexpr auto token = asio::as_tuple(asio::use_awaitable);
  std::optional<http::response_parser<http::string_body>> parser_storage;
  boost::system::error_code read_ec;
  for (;;) {
    parser_storage.emplace();
    parser_storage->header_limit(limits.max_header);
    parser_storage->body_limit(limits.max_body);
    auto [ec, read] = co_await http::async_read(stream, buffer, *parser_storage, token);
    read_ec = ec;
    const unsigned status = parser_storage->is_header_done() ? parser_storage->get().result_int() : 0;
    if (read_ec || status < 100 || status >= 200) break;
  }
  auto& parser = *parser_storage;
  if (parser.is_header_done()) {
    r.status = static_cast<int>(parser.get().result_int());
    if (auto it = parser.get().find(http::field::retry_after); it != parser.get().end())
      r.retry_after = std::string(it->value());
  }
  if (read_ec) {
    if (read_ec == beast::error::timeout)
      r.error = TransportError::timeout;
    else if (read_ec == http::error::body_limit)
      r.error = TransportError::too_large;
    else if (read_ec == http::error::end_of_stream || read_ec == asio::error::eof ||
             read_ec == asio::error::connection_reset || read_ec == http::error::partial_message ||
             read_ec == asio::ssl::error::stream_truncated)
      r.error = TransportError::closed;
    else
      r.error = TransportError::protocol;
    r.error_text = "read: " + read_ec.message();
    // Keep what arrived: a header without its body still says something.
    if (parser.is_header_done()) r.body = std::move(parser.get().body());
    co_return false;
  }
  r.body = std::move(parser.get().body());
  co_return parser.get().keep_alive();
}

}  // namespace batchcut
