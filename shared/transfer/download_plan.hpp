// Which items of a listing a download places, and in which order. Internal to the download
// engine.
#pragma once

#include "shared/source/source.hpp"
#include "shared/transfer/downloader.hpp"
#include "shared/transfer/work_queue.hpp"

#include <cstdint>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace shared::transfer {

/// The items a download places, in the order to start them: the items to fetch from the source
/// before those with a local copy (the network's latency overlaps the local work), each group
/// largest first (by the listed size, else the local copies' hint), so that no worker is left
/// alone with a big file at the end.
struct DownloadPlan {
  std::vector<const source::Item*> items; ///< selected by the patterns, one per path
  std::size_t fetches = 0;                ///< items[0, fetches) are fetched from the source
  std::uint64_t skipped = 0;              ///< items the patterns left out
  std::uint64_t bytes = 0;                ///< the items' listed sizes, added
  std::vector<std::string_view> paths;    ///< the items' paths, sorted
  /// Items of unknown size that were large last time (the local copies' hint): fetched in
  /// segments once their first bytes tell their size.
  std::unordered_set<const source::Item*> large;
};

/// Selects, de-duplicates (by path) and orders the items of `listing`.
DownloadPlan plan_download(const source::Listing& listing, const DownloadOptions& options);

/// Queues the plan's items in order. When `ranges` (the source can send parts of items), an
/// item of a known size of at least twice options.min_segment_size whose share of the bytes to
/// fetch is more than one worker's is queued as its segments instead.
void plan_tasks(const DownloadPlan& plan, const DownloadOptions& options, bool ranges,
                WorkQueue& queue);

} // namespace shared::transfer
