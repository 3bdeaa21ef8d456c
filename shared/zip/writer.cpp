#include "shared/zip/writer.hpp"

#include "shared/error/error.hpp"
#include "shared/zip/crc32.hpp"
#include "shared/zip/output.hpp"
#include "shared/zip/records.hpp"

#include <memory>
#include <stdexcept>
#include <zlib.h>

namespace shared::zip {
namespace {

// One zlib raw-deflate stream (RFC 1951, no zlib header: APPNOTE §4.4.5 method 8), reset for
// each entry, with its own input buffer.
class Deflater {
public:
  explicit Deflater(int level) : m_input(new char[k_buffer_size]) {
    if (::deflateInit2(&m_stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::runtime_error("zlib: deflateInit2 failed");
    }
  }
  ~Deflater() { ::deflateEnd(&m_stream); }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Deflates the body of `entry` into `out`; sets record's crc (of the input) and
  // compressed_size. Throws as detail::copy_body().
  void deflate_body(detail::Output& out, BodyProvider& provider, const Entry& entry,
                    detail::Record& record) {
    ::deflateReset(&m_stream);
    const std::uint64_t start = out.position();
    const std::unique_ptr<BodyReader> reader = provider.open(entry, 0);
    std::uint32_t crc = 0;
    std::uint64_t remaining = entry.size;
    while (remaining > 0) {
      const std::size_t want =
          remaining < k_buffer_size ? static_cast<std::size_t>(remaining) : k_buffer_size;
      const std::size_t n = reader->read(m_input.get(), want);
      if (n == 0) {
        throw error::IntegrityError(
            entry.source_or_path() + ": ended after " + std::to_string(entry.size - remaining) +
            " of " + std::to_string(entry.size) + " bytes (it changed while being zipped)");
      }
      if (n > want) {
        throw std::logic_error("zip: a BodyReader returned more bytes than asked");
      }
      crc = crc32(m_input.get(), n, crc);
      remaining -= n;
      m_stream.next_in = reinterpret_cast<Bytef*>(m_input.get());
      m_stream.avail_in = static_cast<uInt>(n);
      run(out, remaining == 0 ? Z_FINISH : Z_NO_FLUSH);
    }
    record.crc = crc;
    record.compressed_size = out.position() - start;
  }

private:
  // Calls deflate() until it has taken all input (Z_NO_FLUSH) or ended the stream (Z_FINISH),
  // writing straight into the output buffer and flushing it when full.
  void run(detail::Output& out, int mode) {
    for (;;) {
      if (out.room() == 0) {
        out.flush();
      }
      const std::size_t room = out.room();
      m_stream.next_out = reinterpret_cast<Bytef*>(out.tail());
      m_stream.avail_out = static_cast<uInt>(room);
      const int status = ::deflate(&m_stream, mode);
      out.advance(room - m_stream.avail_out);
      if (status == Z_STREAM_ERROR) {
        throw std::runtime_error("zlib: deflate failed");
      }
      if (mode == Z_FINISH ? status == Z_STREAM_END
                           : m_stream.avail_in == 0 && m_stream.avail_out != 0) {
        return;
      }
    }
  }

  z_stream m_stream{};
  std::unique_ptr<char[]> m_input;
};

void check_options(const WriteOptions& options) {
  if (options.method != Method::store && options.method != Method::deflate) {
    throw std::invalid_argument("zip: unknown compression method");
  }
  if (options.method == Method::deflate && (options.level < 1 || options.level > 9)) {
    throw std::invalid_argument("zip: deflate level " + std::to_string(options.level) +
                                " is not in 1…9");
  }
}

} // namespace

WriteResult write_archive(std::vector<Entry> entries_in, const WriteOptions& options,
                          BodyProvider& provider, Sink& sink) {
  check_options(options);
  const std::vector<Entry> entries = prepare_entries(std::move(entries_in));
  detail::Output out(sink);
  std::unique_ptr<Deflater> deflater;
  std::vector<detail::Record> records;
  records.reserve(entries.size());
  std::string header;

  for (const Entry& entry : entries) {
    detail::Record record =
        detail::plan_record(entry, options.method, options.level, out.position());
    header.clear();
    detail::append_local_header(header, entry, record);
    out.put(header);
    if (entry.kind == EntryKind::symlink) {
      out.put(entry.link_target);
    } else if (entry.kind == EntryKind::file && record.method == 0) {
      const std::uint32_t crc = detail::copy_body(out, provider, entry, 0, entry.size, true);
      if (record.crc_known) {
        detail::check_crc(entry, record.crc, crc);
      }
      record.crc = crc;
    } else if (entry.kind == EntryKind::file) {
      if (!deflater) {
        deflater = std::make_unique<Deflater>(options.level);
      }
      const std::uint32_t expected = record.crc;
      deflater->deflate_body(out, provider, entry, record);
      if (record.crc_known) {
        detail::check_crc(entry, expected, record.crc);
      }
      if (record.compressed_size >= detail::k_max32 && !record.zip64) {
        throw std::logic_error("zip: deflate output passed its bound");
      }
    }
    header.clear();
    detail::append_descriptor(header, record);
    out.put(header);
    records.push_back(record);
  }

  const std::uint64_t cd_offset = out.position();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    header.clear();
    detail::append_central_header(header, entries[i], records[i]);
    out.put(header);
  }
  const std::uint64_t cd_size = out.position() - cd_offset;
  header.clear();
  detail::append_end_records(header, entries.size(), cd_offset, cd_size);
  out.put(header);
  out.flush();
  return WriteResult{out.position(), entries.size()};
}

std::optional<std::uint64_t> archive_size(std::vector<Entry> entries_in,
                                          const WriteOptions& options) {
  check_options(options);
  const std::vector<Entry> entries = prepare_entries(std::move(entries_in));
  std::uint64_t offset = 0;
  std::uint64_t cd_size = 0;
  for (const Entry& entry : entries) {
    const detail::Record record = detail::plan_record(entry, options.method, options.level, offset);
    if (record.method != 0) {
      return std::nullopt;
    }
    offset +=
        detail::local_header_size(entry, record) + record.size + detail::descriptor_size(record);
    cd_size += detail::central_header_size(entry, record);
  }
  return offset + cd_size + detail::end_records_size(entries.size(), offset, cd_size);
}

} // namespace shared::zip
