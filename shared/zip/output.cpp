#include "shared/zip/output.hpp"

#include "shared/error/error.hpp"
#include "shared/zip/crc32.hpp"

#include <cstdio>
#include <stdexcept>

namespace shared::zip::detail {

namespace {

std::uint32_t copy_from(Output& out, BodyReader* reader_ptr, const Entry& entry, std::uint64_t from,
                        std::uint64_t count, bool with_crc);

} // namespace

std::uint32_t copy_body(Output& out, BodyProvider& provider, const Entry& entry, std::uint64_t from,
                        std::uint64_t count, bool with_crc) {
  if (count == 0) {
    return 0;
  }
  const std::unique_ptr<BodyReader> reader = provider.open(entry, from);
  return copy_from(out, reader.get(), entry, from, count, with_crc);
}

bool send_body_file(Output& out, Sink& sink, BodyProvider& provider, const Entry& entry,
                    std::uint64_t from, std::uint64_t count, const std::uint32_t* expected_crc) {
  if (count == 0 || !sink.accepts_files()) {
    return false;
  }
  const std::unique_ptr<BodyReader> reader = provider.open(entry, from);
  if (reader->file_descriptor() < 0) {
    const std::uint32_t crc =
        copy_from(out, reader.get(), entry, from, count, expected_crc != nullptr);
    if (expected_crc != nullptr) {
      check_crc(entry, *expected_crc, crc);
    }
    return true;
  }
  out.flush();
  if (!sink.write_file(reader->file_descriptor(), reader->file_offset(), count)) {
    throw SinkClosed();
  }
  out.skip(count);
  return true;
}

namespace {

std::uint32_t copy_from(Output& out, BodyReader* reader_ptr, const Entry& entry, std::uint64_t from,
                        std::uint64_t count, bool with_crc) {
  BodyReader* const reader = reader_ptr;
  std::uint32_t crc = 0;
  std::uint64_t remaining = count;
  while (remaining > 0) {
    if (out.room() == 0) {
      out.flush();
    }
    const std::size_t want =
        remaining < out.room() ? static_cast<std::size_t>(remaining) : out.room();
    const std::size_t n = reader->read(out.tail(), want);
    if (n == 0) {
      throw error::IntegrityError(
          entry.source_or_path() + ": ended after " + std::to_string(from + count - remaining) +
          " of " + std::to_string(entry.size) + " bytes (it changed while being zipped)");
    }
    if (n > want) {
      throw std::logic_error("zip: a BodyReader returned more bytes than asked");
    }
    if (with_crc) {
      crc = crc32(out.tail(), n, crc);
    }
    out.advance(n);
    remaining -= n;
  }
  return crc;
}

} // namespace

void check_crc(const Entry& entry, std::uint32_t expected, std::uint32_t actual) {
  if (expected != actual) {
    char text[64];
    std::snprintf(text, sizeof text, "CRC-32 %08x, listed with %08x", actual, expected);
    throw error::IntegrityError(entry.source_or_path() + ": " + text +
                                " (it changed while being zipped)");
  }
}

} // namespace shared::zip::detail
