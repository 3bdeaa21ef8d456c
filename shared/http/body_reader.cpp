#include "shared/http/body_reader.hpp"

#include "shared/http/chunked_decoder.hpp"
#include "shared/http/errors.hpp"

#include <Poco/Net/SSLException.h>

#include <algorithm>
#include <limits>
#include <string>

namespace shared::http {

BodyReader::BodyReader(Poco::Net::HTTPClientSession& session, char* buffer, std::size_t size)
    : m_session(session), m_buffer(buffer), m_size(size) {
  m_session.drainBuffer(m_ahead);
}

std::string_view BodyReader::next(std::uint64_t limit) {
  if (m_ahead_used < m_ahead.size()) {
    const auto n =
        static_cast<std::size_t>(std::min<std::uint64_t>(limit, m_ahead.size() - m_ahead_used));
    const std::string_view block(m_ahead.begin() + m_ahead_used, n);
    m_ahead_used += n;
    return block;
  }
  const auto want = static_cast<int>(std::min<std::uint64_t>(limit, m_size));
  int got = 0;
  try {
    got = m_session.socket().receiveBytes(m_buffer, want);
  } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException&) {
    got = 0; // a TLS peer that closed without close_notify: the end, as Poco's HTTPS session has it
  }
  return {m_buffer, got > 0 ? static_cast<std::size_t>(got) : 0};
}

std::uint64_t BodyReader::read_up_to(std::uint64_t length, const Deliver& deliver) {
  std::uint64_t done = 0;
  while (done < length) {
    const std::string_view block = next(length - done);
    if (block.empty()) {
      break;
    }
    deliver(block.data(), block.size());
    done += block.size();
  }
  return done;
}

void BodyReader::read_exactly(std::uint64_t length, const Deliver& deliver) {
  const std::uint64_t done = read_up_to(length, deliver);
  if (done < length) {
    throw BrokenBody("body ended after " + std::to_string(done) + " of " + std::to_string(length) +
                     " bytes (Content-Length)");
  }
}

void BodyReader::read_chunked(const Deliver& deliver) {
  ChunkedDecoder chunks;
  while (!chunks.complete()) {
    const std::string_view block = next(m_size);
    if (block.empty()) {
      throw BrokenBody("chunked body ended before its last chunk");
    }
    chunks.feed(block.data(), block.size(), deliver);
  }
}

void BodyReader::read_to_close(const Deliver& deliver) {
  read_up_to(std::numeric_limits<std::uint64_t>::max(), deliver);
}

} // namespace shared::http
