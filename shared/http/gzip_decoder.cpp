#include "shared/http/gzip_decoder.hpp"

#include "shared/http/errors.hpp"

#include <new>
#include <string>

namespace shared::http {

GzipDecoder::GzipDecoder() {
  // 16 + MAX_WBITS: a gzip header and trailer around the deflate stream (zlib.h).
  if (inflateInit2(&m_stream, 16 + MAX_WBITS) != Z_OK) {
    throw std::bad_alloc();
  }
}

GzipDecoder::~GzipDecoder() {
  inflateEnd(&m_stream);
}

void GzipDecoder::feed(const char* data, std::size_t size,
                       const std::function<void(const char*, std::size_t)>& deliver) {
  m_stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  m_stream.avail_in = static_cast<uInt>(size);
  // Until the input is used up, and while a full output buffer says more may be waiting.
  while (!m_ended && (m_stream.avail_in > 0 || m_stream.avail_out == 0)) {
    m_stream.next_out = reinterpret_cast<Bytef*>(m_out);
    m_stream.avail_out = sizeof m_out;
    const int result = inflate(&m_stream, Z_NO_FLUSH);
    if (result == Z_BUF_ERROR) {
      return; // nothing more to do without more input
    }
    if (result != Z_OK && result != Z_STREAM_END) {
      throw BrokenBody("broken gzip stream (" +
                       std::string(m_stream.msg != nullptr ? m_stream.msg : "zlib error") + ")");
    }
    if (const std::size_t produced = sizeof m_out - m_stream.avail_out; produced > 0) {
      deliver(m_out, produced);
    }
    m_ended = result == Z_STREAM_END;
  }
}

void GzipDecoder::finish() const {
  if (!m_ended) {
    throw BrokenBody("broken gzip stream (truncated)");
  }
}

} // namespace shared::http
