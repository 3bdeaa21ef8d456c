#include "shared/hash/sha256.hpp"

#include "shared/format/hex.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace shared::hash {
namespace {

// Fetched once: an implicit fetch on every EVP_DigestInit_ex costs a lock and a lookup,
// which shows when hashing thousands of small files.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) {
    throw std::runtime_error("OpenSSL has no SHA256 implementation");
  }
  return md;
}

} // namespace

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
  if (m_ctx == nullptr) {
    throw std::bad_alloc();
  }
  reset();
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(m_ctx);
}

void Sha256::reset() {
  if (EVP_DigestInit_ex(m_ctx, sha256_md(), nullptr) != 1) {
    throw std::runtime_error("EVP_DigestInit_ex(SHA256) failed");
  }
}

void Sha256::update(const void* data, std::size_t size) {
  if (size > 0 && EVP_DigestUpdate(m_ctx, data, size) != 1) {
    throw std::runtime_error("EVP_DigestUpdate failed");
  }
}

Digest Sha256::finish() {
  Digest digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(m_ctx, digest.data(), &length) != 1 || length != digest.size()) {
    throw std::runtime_error("EVP_DigestFinal_ex failed");
  }
  reset();
  return digest;
}

void Sha256::copy_to(Sha256& other) const {
  if (EVP_MD_CTX_copy_ex(other.m_ctx, m_ctx) != 1) {
    throw std::runtime_error("EVP_MD_CTX_copy_ex failed");
  }
}

Digest sha256(std::string_view data) {
  Sha256 hasher;
  hasher.update(data.data(), data.size());
  return hasher.finish();
}

void append_hex(std::string& out, const Digest& digest, bool uppercase) {
  const char* digits = uppercase ? "0123456789ABCDEF" : "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + digest.size() * 2);
  for (std::size_t i = 0; i < digest.size(); ++i) {
    out[at + 2 * i] = digits[digest[i] >> 4];
    out[at + 2 * i + 1] = digits[digest[i] & 0x0f];
  }
}

std::string to_hex(const Digest& digest, bool uppercase) {
  std::string hex;
  append_hex(hex, digest, uppercase);
  return hex;
}

std::optional<Digest> from_hex(std::string_view hex) {
  Digest digest{};
  if (hex.size() != digest.size() * 2) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < digest.size(); ++i) {
    const int high = format::hex_digit_value(hex[2 * i]);
    const int low = format::hex_digit_value(hex[2 * i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    digest[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return digest;
}

} // namespace shared::hash
