#include "shared/zip/layout.hpp"

#include "shared/zip/output.hpp"

#include <algorithm>
#include <stdexcept>

namespace shared::zip {
namespace {

// Writes the part of `bytes` (which start at archive offset `start`) that falls in
// [pos, last] and moves pos past it.
void emit(detail::Output& out, std::string_view bytes, std::uint64_t start, std::uint64_t& pos,
          std::uint64_t last) {
  const std::uint64_t end = start + bytes.size(); // exclusive
  if (pos >= end || pos > last) {
    return;
  }
  const std::uint64_t stop = std::min(end, last + 1);
  out.put(
      bytes.substr(static_cast<std::size_t>(pos - start), static_cast<std::size_t>(stop - pos)));
  pos = stop;
}

} // namespace

Layout::Layout(std::vector<Entry> entries) : m_entries(prepare_entries(std::move(entries))) {
  m_records.reserve(m_entries.size());
  std::uint64_t offset = 0;
  for (const Entry& entry : m_entries) {
    detail::Record record = detail::plan_record(entry, Method::store, 0, offset);
    if (record.descriptor) {
      throw std::invalid_argument("zip entry \"" + entry.path +
                                  "\": no CRC-32, which a Layout needs");
    }
    offset += detail::local_header_size(entry, record) + record.size;
    m_records.push_back(record);
  }
  m_cd_offset = offset;
  m_central_offsets.reserve(m_entries.size());
  for (std::size_t i = 0; i < m_entries.size(); ++i) {
    m_central_offsets.push_back(offset);
    offset += detail::central_header_size(m_entries[i], m_records[i]);
  }
  m_cd_size = offset - m_cd_offset;
  m_size = offset + detail::end_records_size(m_entries.size(), m_cd_offset, m_cd_size);
}

void Layout::write_range(std::uint64_t first, std::uint64_t last, BodyProvider& provider,
                         Sink& sink) const {
  if (first > last || last >= m_size) {
    throw std::out_of_range("zip: byte range " + std::to_string(first) + "-" +
                            std::to_string(last) + " is not within the archive's " +
                            std::to_string(m_size) + " bytes");
  }
  detail::Output out(sink);
  std::string header;
  std::uint64_t pos = first;
  const std::size_t count = m_entries.size();

  // Local headers and bodies: from the entry whose local header starts at or before `first`.
  if (pos < m_cd_offset) {
    const auto after =
        std::upper_bound(m_records.begin(), m_records.end(), pos,
                         [](std::uint64_t p, const detail::Record& r) { return p < r.offset; });
    for (std::size_t i = static_cast<std::size_t>(after - m_records.begin()) - 1;
         i < count && pos <= last; ++i) {
      const Entry& entry = m_entries[i];
      const detail::Record& record = m_records[i];
      header.clear();
      detail::append_local_header(header, entry, record);
      emit(out, header, record.offset, pos, last);
      const std::uint64_t body_start = record.offset + header.size();
      const std::uint64_t body_end = body_start + record.size; // exclusive
      if (pos > last || pos >= body_end) {
        continue;
      }
      const std::uint64_t from = pos - body_start;
      const std::uint64_t stop = std::min(body_end, last + 1);
      if (entry.kind == EntryKind::symlink) {
        emit(out, entry.link_target, body_start, pos, last);
        continue;
      }
      const bool whole = from == 0 && stop == body_end;
      if (detail::send_body_file(out, sink, provider, entry, from, stop - pos,
                                 whole ? &record.crc : nullptr)) {
        pos = stop; // zero-copy: the bytes are not seen here, so not checked against the CRC
        continue;
      }
      const std::uint32_t crc = detail::copy_body(out, provider, entry, from, stop - pos, whole);
      if (whole) {
        detail::check_crc(entry, record.crc, crc);
      }
      pos = stop;
    }
  }

  // Central directory headers.
  if (pos <= last && pos < m_cd_offset + m_cd_size) {
    const auto after = std::upper_bound(m_central_offsets.begin(), m_central_offsets.end(), pos);
    for (std::size_t i = static_cast<std::size_t>(after - m_central_offsets.begin()) - 1;
         i < count && pos <= last; ++i) {
      header.clear();
      detail::append_central_header(header, m_entries[i], m_records[i]);
      emit(out, header, m_central_offsets[i], pos, last);
    }
  }

  // End records.
  if (pos <= last) {
    header.clear();
    detail::append_end_records(header, count, m_cd_offset, m_cd_size);
    emit(out, header, m_cd_offset + m_cd_size, pos, last);
  }
  out.flush();
}

} // namespace shared::zip
