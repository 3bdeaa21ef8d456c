#include "shared/crypt4gh/crypt4gh.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace shared::crypt4gh {
namespace {

constexpr std::size_t k_max_key_file = 64u << 10;
constexpr std::string_view k_magic = "crypt4gh";
constexpr std::uint32_t k_version = 1;
constexpr std::size_t k_header_start = 16; // magic, version, packet count
constexpr std::uint32_t k_max_packets = 1u << 16;
// A method-0 packet: length, method, writer's key, nonce, MAC (and its encrypted payload).
constexpr std::uint32_t k_min_x25519_packet = 4 + 4 + 32 + 12 + 16;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::uint32_t little_endian32(std::string_view data, std::size_t at) {
  std::uint32_t value = 0;
  for (int i = 3; i >= 0; --i) {
    value = (value << 8) | static_cast<unsigned char>(data[at + static_cast<std::size_t>(i)]);
  }
  return value;
}

} // namespace

PublicKey parse_public_key(std::string_view text) {
  text = trim(text);
  if (text.find("PRIVATE KEY-----") != std::string_view::npos) {
    throw std::invalid_argument("this is a private key; give the public key (.pub)");
  }
  std::string base64;
  if (text.substr(0, 5) == "-----") {
    if (text.substr(0, k_public_key_begin.size()) != k_public_key_begin) {
      throw std::invalid_argument("not a Crypt4GH public key (the first line is not " +
                                  std::string(k_public_key_begin) + ")");
    }
    const auto end = text.find(k_public_key_end);
    if (end == std::string_view::npos) {
      throw std::invalid_argument("no " + std::string(k_public_key_end) + " line");
    }
    if (!trim(text.substr(end + k_public_key_end.size())).empty()) {
      throw std::invalid_argument("text after the " + std::string(k_public_key_end) + " line");
    }
    base64 = std::string(text.substr(k_public_key_begin.size(), end - k_public_key_begin.size()));
  } else {
    base64 = std::string(text);
  }
  std::string clean;
  for (const char c : base64) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      continue;
    }
    const bool valid = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '+' || c == '/' || c == '=';
    if (!valid) {
      throw std::invalid_argument("the key is not base64");
    }
    clean.push_back(c);
  }
  if (clean.empty()) {
    throw std::invalid_argument("no key between the armor lines");
  }
  const auto padding = clean.find('=');
  if (clean.size() % 4 != 0 || (padding != std::string::npos &&
                                (padding + 2 < clean.size() ||
                                 clean.find_first_not_of('=', padding) != std::string::npos))) {
    throw std::invalid_argument("the key is not base64");
  }
  std::string bytes;
  try {
    std::istringstream in(clean);
    Poco::Base64Decoder decoder(in);
    bytes.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const std::exception&) {
    throw std::invalid_argument("the key is not base64");
  }
  if (bytes.size() != PublicKey().size()) {
    throw std::invalid_argument("the key is " + std::to_string(bytes.size()) +
                                " bytes; a Crypt4GH (X25519) public key has 32");
  }
  PublicKey key{};
  std::memcpy(key.data(), bytes.data(), key.size());
  return key;
}

PublicKey read_public_key_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::invalid_argument(path + ": cannot be read (" + std::strerror(errno) + ")");
  }
  std::string text(k_max_key_file + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    throw std::invalid_argument(path + ": cannot be read");
  }
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > k_max_key_file) {
    throw std::invalid_argument(path + ": over 64 KiB, not a Crypt4GH public key file");
  }
  try {
    return parse_public_key(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

std::string to_base64(const PublicKey& key) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(reinterpret_cast<const char*>(key.data()),
                static_cast<std::streamsize>(key.size()));
  encoder.close();
  return out.str();
}

std::optional<std::size_t> header_length(std::string_view data, std::string* problem) {
  const auto fail = [problem](const std::string& why) -> std::optional<std::size_t> {
    if (problem != nullptr) {
      *problem = why;
    }
    return std::nullopt;
  };
  if (data.size() < k_magic.size() || data.substr(0, k_magic.size()) != k_magic) {
    return fail("it does not start with \"crypt4gh\"");
  }
  if (data.size() < k_header_start) {
    return fail("it ends inside the header");
  }
  if (const std::uint32_t version = little_endian32(data, 8); version != k_version) {
    return fail("version " + std::to_string(version) + ", not 1");
  }
  const std::uint32_t packets = little_endian32(data, 12);
  if (packets == 0 || packets > k_max_packets) {
    return fail(std::to_string(packets) + " header packets");
  }
  std::size_t at = k_header_start;
  for (std::uint32_t k = 0; k < packets; ++k) {
    if (data.size() - at < 8) {
      return fail("it ends inside header packet " + std::to_string(k + 1));
    }
    const std::uint32_t length = little_endian32(data, at);
    const std::uint32_t method = little_endian32(data, at + 4);
    if (length < 8 || (method == 0 && length < k_min_x25519_packet)) {
      return fail("header packet " + std::to_string(k + 1) + " is too short (" +
                  std::to_string(length) + " bytes)");
    }
    if (data.size() - at < length) {
      return fail("it ends inside header packet " + std::to_string(k + 1));
    }
    at += length;
  }
  return at;
}

} // namespace shared::crypt4gh
