// How the API key is presented: "Authorization: Bearer KEY" or "Authorization: KEY".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace batchcut {

enum class AuthScheme { bearer, raw };

std::optional<AuthScheme> parse_auth_scheme(std::string_view s);
std::string authorization_value(AuthScheme scheme, std::string_view key);

}  // namespace batchcut
