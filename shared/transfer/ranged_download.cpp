#include "shared/transfer/ranged_download.hpp"

#include "shared/fs/part_file.hpp"
#include "shared/fs/write_loop.hpp"
#include "shared/transfer/segmented_item.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace shared::transfer {
namespace {

// The parts of a body of `size` bytes: `part_size` each, but the last `parallel` x `part_size`
// bytes in parts of part_size / parallel (at least k_min_tail_part): the parts still in flight
// when the last one lands, the bytes the SHA-256 follower must read after it, are then few.
std::vector<Part> plan_parts(std::uint64_t size, std::uint64_t part_size, unsigned parallel) {
  constexpr std::uint64_t k_min_tail_part = 1u << 20;
  part_size = std::max<std::uint64_t>(part_size, 1);
  parallel = std::max(parallel, 1u);
  const std::uint64_t small = std::max(part_size / parallel, k_min_tail_part);
  const std::uint64_t tail = small < part_size ? std::min(size, parallel * part_size) : 0;
  std::vector<Part> parts;
  for (std::uint64_t at = 0; at < size;) {
    const bool big = at + part_size <= size - tail; // big parts never reach into the tail
    const std::uint64_t length = std::min(big ? part_size : small, size - at);
    parts.push_back({at, length});
    at += length;
  }
  return parts;
}

// Fetches every segment of `item` on up to options.parallel threads, each with its own reader
// of the shared URL. A failed segment fails the item (SegmentedItem skips the rest), so every
// thread goes on to the end of the plan and finish() then throws the first error.
void fetch_segments(SegmentedItem& item, source::SharedAccessUrl& url, const RangedOptions& options,
                    const RunContext& run, RangedResult& result) {
  const auto threads_wanted = static_cast<unsigned>(std::min<std::uint64_t>(
      std::max(options.parallel, 1u), std::max<std::size_t>(item.count(), 1)));
  std::atomic<std::size_t> next{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> attempts{0};
  const auto work = [&] {
    source::AccessUrlReader reader(url, options.http, options.refreshes_per_part, run.logger);
    const auto no_folder = [] { return -1; }; // the part file is open already (start_in)
    for (std::size_t k = next++; k < item.count(); k = next++) {
      try {
        item.fetch_segment(k, reader, no_folder, run);
      } catch (const error::Interrupted&) {
        // Kept by the item as its error, which finish() throws.
      }
    }
    retries += reader.retries();
    attempts += reader.attempts();
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < threads_wanted; ++t) {
    threads.emplace_back(work);
  }
  for (auto& thread : threads) {
    thread.join();
  }
  result.retries = retries;
  result.part_attempts = attempts;
}

} // namespace

RangedResult download_ranged(const std::string& final_path, std::uint64_t size,
                             const std::optional<hash::Digest>& sha256,
                             const source::AccessUrl& url,
                             const std::function<source::AccessUrl()>& refresh,
                             const RangedOptions& options, log::Logger& logger,
                             progress::Reporter& progress, std::string_view head) {
  // The file as the download engine's segment code sees it: one item, checked when `sha256`
  // is given.
  source::Listing listing;
  listing.items.push_back({final_path, size, sha256, url.url, false, nullptr});
  DownloadOptions checks;
  checks.cancelled = options.http.cancelled;
  Tally tally(listing);
  const RunContext run{checks, logger, progress, tally};
  SegmentedItem item(listing.items.front(), plan_parts(size, options.part_size, options.parallel),
                     head.size(), SegmentedItem::OnMismatch::fail);
  {
    // A leftover is never "already downloaded": it is replaced. Deleted unless renamed.
    fs::PartFile part(final_path, fs::Durability::flush);
    fs::pwrite_all(part.descriptor(), head.data(), head.size(), 0, part.part_path());
    item.start_in(std::move(part), run);
  }
  source::SharedAccessUrl shared(url, refresh, logger);
  RangedResult result;
  result.bytes = head.size() + size;
  fetch_segments(item, shared, options, run, result);
  item.finish(run);
  result.refreshed = shared.refreshed();
  result.rehashed = item.hash_read_again() ? 1 : 0;
  return result;
}

} // namespace shared::transfer
