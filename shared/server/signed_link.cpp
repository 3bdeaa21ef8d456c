#include "shared/server/signed_link.hpp"

#include <Poco/String.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace shared::server {

std::string link_signature(const std::string& secret, const std::string& path,
                           std::int64_t expires) {
  const std::string message = path + "\n" + std::to_string(expires);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
           &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  static const char* const digits = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < size; ++i) {
    hex.push_back(digits[digest[i] >> 4]);
    hex.push_back(digits[digest[i] & 15]);
  }
  return hex;
}

std::string sign_link(const std::string& secret, const std::string& path, std::int64_t expires) {
  return path + "?expires=" + std::to_string(expires) +
         "&signature=" + link_signature(secret, path, expires);
}

LinkCheck check_link(const std::string& secret, const std::string& path,
                     const std::map<std::string, std::string>& query, std::int64_t now) {
  const auto expires = query.find("expires");
  const auto signature = query.find("signature");
  if (expires == query.end() || signature == query.end()) {
    return LinkCheck::unsigned_link;
  }
  const std::string& text = expires->second;
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != text.npos ||
      signature->second.size() != 64) {
    return LinkCheck::malformed;
  }
  const std::int64_t when = std::stoll(text);
  const std::string expected = link_signature(secret, path, when);
  const std::string given = Poco::toLower(signature->second);
  if (CRYPTO_memcmp(expected.data(), given.data(), expected.size()) != 0) {
    return LinkCheck::bad_signature;
  }
  return when < now ? LinkCheck::expired : LinkCheck::valid;
}

} // namespace shared::server
