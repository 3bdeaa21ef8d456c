#include "shared/transfer/tally.hpp"

#include <algorithm>

namespace shared::transfer {

void Tally::record_checked(const source::Item& item,
                           const std::optional<fs::Fingerprint>& fingerprint) {
  m_checked[static_cast<std::size_t>(&item - m_listed)] = fingerprint;
}

void Tally::fail(const source::Item& item, const std::string& message, error::ExitCode code) {
  std::lock_guard<std::mutex> lock(m_mutex);
  m_failures.push_back({item.path, message, code});
}

DownloadSummary Tally::summary(std::uint64_t items) {
  DownloadSummary summary;
  summary.downloaded = downloaded;
  summary.from_cache = from_cache;
  summary.bytes_saved = bytes_saved;
  summary.folders = folders;
  summary.bytes = bytes;
  summary.retries = retries;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    summary.failures = std::move(m_failures);
  }
  summary.checked = std::move(m_checked);
  std::sort(summary.failures.begin(), summary.failures.end(),
            [](const ItemFailure& a, const ItemFailure& b) { return a.path < b.path; });
  const std::uint64_t done =
      summary.downloaded + summary.from_cache + summary.folders + summary.failures.size();
  summary.not_attempted = items > done ? items - done : 0;
  return summary;
}

} // namespace shared::transfer
