// What the workers of one download have done, and what they share to do it. Internal to the
// download engine.
#pragma once

#include "shared/fs/fingerprint.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/downloader.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace shared::transfer {

/// The counts, failures and checked files of one download, added to by every worker.
/// Thread-safe.
class Tally {
public:
  explicit Tally(const source::Listing& listing)
      : m_listed(listing.items.data()), m_checked(listing.items.size()) {}

  std::atomic<std::uint64_t> downloaded{0};  ///< files placed from the source
  std::atomic<std::uint64_t> from_cache{0};  ///< files placed from local copies
  std::atomic<std::uint64_t> bytes_saved{0}; ///< bytes placed from local copies
  std::atomic<std::uint64_t> folders{0};     ///< empty folders created
  std::atomic<std::uint64_t> bytes{0};       ///< bytes placed from the source
  std::atomic<std::uint64_t> retries{0};     ///< request and item retries

  /// `item` (of the listing) is in place and was checked: `fingerprint` is its file's once
  /// complete (see DownloadSummary::checked). One call per item.
  void record_checked(const source::Item& item, const std::optional<fs::Fingerprint>& fingerprint);

  /// `item` could not be placed.
  void fail(const source::Item& item, const std::string& message, error::ExitCode code);

  /// The summary of the counts; `items` were to be placed (the rest were not attempted).
  DownloadSummary summary(std::uint64_t items);

private:
  const source::Item* m_listed;                          // the listing's first item
  std::vector<std::optional<fs::Fingerprint>> m_checked; // by listing index; one writer each
  std::mutex m_mutex;                                    // guards m_failures
  std::vector<ItemFailure> m_failures;
};

/// What the units placing items share during one download.
struct RunContext {
  const DownloadOptions& options;
  log::Logger& logger;
  progress::Reporter& progress;
  Tally& tally;

  /// Whether `item`'s SHA-256 is checked as it is fetched.
  bool checks_hash(const source::Item& item) const {
    return !options.skip_validation && item.sha256.has_value();
  }
  /// Throws error::Interrupted when the download was cancelled.
  void throw_if_cancelled() const {
    if (options.cancelled && options.cancelled()) {
      throw error::Interrupted();
    }
  }
};

} // namespace shared::transfer
