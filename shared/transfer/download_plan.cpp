#include "shared/transfer/download_plan.hpp"

#include <algorithm>

namespace shared::transfer {
namespace {

// The items the patterns select, sorted by path, one per path.
std::vector<const source::Item*> select(const source::Listing& listing,
                                        const glob::PatternSet& patterns, std::uint64_t& skipped) {
  std::vector<const source::Item*> items;
  items.reserve(listing.items.size());
  for (const auto& item : listing.items) {
    if (patterns.matches(item.path)) {
      items.push_back(&item);
    } else {
      ++skipped;
    }
  }
  const auto by_path = [](const source::Item* a, const source::Item* b) {
    return a->path < b->path;
  };
  std::stable_sort(items.begin(), items.end(), by_path); // of the same path, the first listed stays
  items.erase(
      std::unique(items.begin(), items.end(),
                  [](const source::Item* a, const source::Item* b) { return a->path == b->path; }),
      items.end());
  return items;
}

// An item's place in the order.
struct Rank {
  const source::Item* item;
  std::uint64_t bytes; // listed, else hinted
  bool local;          // placed from a local copy
};

Rank rank(const source::Item& item, const DownloadOptions& options, DownloadPlan& plan) {
  const LocalCopies* copies = options.local_copies;
  const bool local = copies != nullptr && item.sha256 && copies->has(*item.sha256);
  std::uint64_t bytes = item.size.value_or(0);
  if (!item.size && !local && copies != nullptr) {
    if (const auto hint = copies->size_hint(item)) {
      bytes = *hint;
      if (*hint >= 2 * options.min_segment_size) {
        plan.large.insert(&item);
      }
    }
  }
  return {&item, bytes, local};
}

} // namespace

DownloadPlan plan_download(const source::Listing& listing, const DownloadOptions& options) {
  DownloadPlan plan;
  const std::vector<const source::Item*> selected = select(listing, options.patterns, plan.skipped);
  std::vector<Rank> ranks;
  ranks.reserve(selected.size());
  for (const auto* item : selected) {
    plan.paths.emplace_back(item->path);
    ranks.push_back(rank(*item, options, plan));
  }
  std::stable_sort(ranks.begin(), ranks.end(), [](const Rank& a, const Rank& b) {
    return a.local != b.local ? !a.local : a.bytes > b.bytes;
  });
  plan.items.reserve(ranks.size());
  for (const Rank& ranked : ranks) {
    plan.items.push_back(ranked.item);
    plan.fetches += ranked.local ? 0 : 1;
    plan.bytes += ranked.item->size.value_or(0);
  }
  return plan;
}

void plan_tasks(const DownloadPlan& plan, const DownloadOptions& options, bool ranges,
                WorkQueue& queue) {
  const std::uint64_t segment = ranges ? options.min_segment_size : 0;
  std::uint64_t to_fetch = 0;
  for (std::size_t i = 0; i < plan.fetches; ++i) {
    to_fetch += plan.items[i]->size.value_or(0);
  }
  for (std::size_t i = 0; i < plan.fetches; ++i) {
    const source::Item& item = *plan.items[i];
    const bool large = segment != 0 && !item.is_directory && !item.content && item.size &&
                       *item.size >= 2 * segment;
    // Worth splitting when its share of the bytes is (rounded) more than one worker's.
    if (large && static_cast<long double>(*item.size) / to_fetch * options.parallel >= 1.5L) {
      queue.plan_segments(item, *item.size, segment);
    } else {
      queue.plan_item(item);
    }
  }
  queue.end_fetches();
  for (std::size_t i = plan.fetches; i < plan.items.size(); ++i) {
    queue.plan_item(*plan.items[i]); // a local copy
  }
}

} // namespace shared::transfer
