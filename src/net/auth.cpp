#include "batchcut/net/auth.hpp"

namespace batchcut {

std::optional<AuthScheme> parse_auth_scheme(std::string_view s) {
  if (s == "bearer") return AuthScheme::bearer;
  if (s == "raw") return AuthScheme::raw;
  return std::nullopt;
}

std::string authorization_value(AuthScheme scheme, std::string_view key) {
  std::string out = scheme == AuthScheme::bearer ? "Bearer " : "";
  out += key;
  return out;
}

}  // namespace batchcut
