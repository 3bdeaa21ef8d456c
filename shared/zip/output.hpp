// Internal to shared/zip: the one buffer between the writers and their Sink.
#pragma once

#include "shared/zip/io.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace shared::zip::detail {

/// k_buffer_size bytes collected before each Sink::write(); bodies are read straight into its
/// free tail. A Sink that refuses bytes makes flush() throw SinkClosed, so a writer stops
/// within one buffer.
class Output {
public:
  explicit Output(Sink& sink) : m_sink(sink), m_buffer(new char[k_buffer_size]) {}

  /// Copies `data` in, handing full buffers to the sink.
  void put(std::string_view data) {
    while (!data.empty()) {
      if (room() == 0) {
        flush();
      }
      const std::size_t n = data.size() < room() ? data.size() : room();
      std::memcpy(tail(), data.data(), n);
      advance(n);
      data.remove_prefix(n);
    }
  }

  /// The free part of the buffer (flush() first when room() is 0).
  char* tail() { return m_buffer.get() + m_used; }
  std::size_t room() const { return k_buffer_size - m_used; }
  /// Counts `n` bytes written into tail().
  void advance(std::size_t n) {
    m_used += n;
    m_position += n;
  }

  /// Hands the buffered bytes to the sink. Throws SinkClosed when it refuses them.
  void flush() {
    if (m_used > 0) {
      const std::size_t n = m_used;
      m_used = 0;
      if (!m_sink.write(m_buffer.get(), n)) {
        throw SinkClosed();
      }
    }
  }

  /// Counts `n` bytes the sink took directly (Sink::write_file()) after a flush().
  void skip(std::uint64_t n) { m_position += n; }

  /// Bytes put so far (flushed or not).
  std::uint64_t position() const { return m_position; }

private:
  Sink& m_sink;
  std::unique_ptr<char[]> m_buffer;
  std::size_t m_used = 0;
  std::uint64_t m_position = 0;
};

/// Copies `count` bytes of file entry `entry`'s body, from `from` bytes into it, from
/// `provider` into `out`, reading straight into the buffer. Returns the CRC-32 of the bytes
/// copied when `with_crc`, else 0. Throws error::IntegrityError naming the entry when the body
/// ends early, and whatever the provider and the sink throw.
std::uint32_t copy_body(Output& out, BodyProvider& provider, const Entry& entry, std::uint64_t from,
                        std::uint64_t count, bool with_crc);

/// Sends `count` bytes of file entry `entry`'s body, from `from` bytes into it, through
/// `sink`.write_file() when the sink accepts files and the provider's reader is a local file
/// (flushing `out` first; the bytes are not seen, so not checked against a CRC-32). When the
/// sink accepts files but the reader is not a local file, copies the bytes as copy_body() does
/// and checks them against `*expected_crc` when not null. Returns false, having done nothing,
/// when the sink does not accept files. Throws SinkClosed when the sink refuses the bytes,
/// error::IntegrityError as copy_body() and check_crc(), and whatever the provider and the
/// sink throw.
bool send_body_file(Output& out, Sink& sink, BodyProvider& provider, const Entry& entry,
                    std::uint64_t from, std::uint64_t count, const std::uint32_t* expected_crc);

/// Throws error::IntegrityError naming the entry when `actual` is not its expected CRC-32.
void check_crc(const Entry& entry, std::uint32_t expected, std::uint32_t actual);

} // namespace shared::zip::detail
