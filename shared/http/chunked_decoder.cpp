#include "shared/http/chunked_decoder.hpp"

#include "shared/http/errors.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>

namespace shared::http {
namespace {

constexpr std::size_t k_max_line = 8192; // bytes: longer framing lines are not a real server's

// The size in bytes of the chunk a size line announces: 1*HEXDIG, then optional whitespace
// before ";" and chunk extensions (RFC 9112 §7.1.1). Throws BrokenBody for anything else, and
// for a size over 2^64 - 1.
std::uint64_t chunk_size(std::string_view line) {
  const std::string_view digits = line.substr(0, line.find(';'));
  std::uint64_t size = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), size, 16);
  const std::string_view rest(end, static_cast<std::size_t>(digits.data() + digits.size() - end));
  if (error != std::errc() || rest.find_first_not_of(" \t") != std::string_view::npos) {
    throw BrokenBody("malformed chunk size \"" + std::string(digits.substr(0, 40)) + "\"");
  }
  return size;
}

} // namespace

void ChunkedDecoder::feed(const char* data, std::size_t size,
                          const std::function<void(const char*, std::size_t)>& deliver) {
  std::size_t pos = 0;
  while (pos < size && m_state != State::complete) {
    if (m_state == State::data) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(m_left, size - pos));
      deliver(data + pos, n);
      pos += n;
      m_left -= n;
      if (m_left == 0) {
        m_state = State::data_end;
      }
      continue;
    }
    const char c = data[pos++];
    if (c == '\n') {
      end_line();
    } else if (m_line.size() == k_max_line) {
      throw BrokenBody("chunk header line too long");
    } else {
      m_line.push_back(c);
    }
  }
}

void ChunkedDecoder::end_line() {
  if (!m_line.empty() && m_line.back() == '\r') {
    m_line.pop_back();
  }
  switch (m_state) {
  case State::size_line:
    m_left = chunk_size(m_line);
    m_state = m_left > 0 ? State::data : State::trailer; // size 0: the last chunk
    break;
  case State::data_end:
    if (!m_line.empty()) {
      throw BrokenBody("malformed chunked body (no CRLF after a chunk)");
    }
    m_state = State::size_line;
    break;
  case State::trailer:
    if (m_line.empty()) {
      m_state = State::complete;
    }
    break;
  case State::data:
  case State::complete:
    break; // not reached: no line is read in these states
  }
  m_line.clear();
}

} // namespace shared::http
