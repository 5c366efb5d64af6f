// In-memory TLS material for the emulator: a throwaway CA and a server certificate for
// 127.0.0.1 / localhost signed by it (OpenSSL 3). No Asio here.
#pragma once

#include <chrono>
#include <string>

namespace batchcut::detail {

struct SelfSignedTls {
  std::string ca_cert_pem;      // what clients trust
  std::string server_cert_pem;  // leaf, then the CA: a chain for use_certificate_chain
  std::string server_key_pem;   // PKCS#8, unencrypted
};

// Throws std::runtime_error with OpenSSL's message on failure.
// `alt_names`: the server certificate's subjectAltName, e.g. "IP:127.0.0.1,DNS:localhost".
SelfSignedTls make_self_signed_tls(std::chrono::hours validity = std::chrono::hours(24 * 30),
                                   const std::string& alt_names = "IP:127.0.0.1,DNS:localhost,IP:::1");

}  // namespace batchcut::detail
