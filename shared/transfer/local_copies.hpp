// Placing an item from a copy already on this machine (LocalCopies: the incremental cache)
// instead of fetching it. Internal to the download engine.
#pragma once

#include "shared/fs/file_copy.hpp"
#include "shared/hash/file_hasher.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/downloader.hpp"
#include "shared/transfer/tally.hpp"

#include <cstdint>
#include <string>

namespace shared::transfer {

/// Whether a local copy is read and hashed before it is placed (DownloadOptions'
/// skip_validation and hash_local_copies).
bool hashed_when_placed(const DownloadOptions& options, const LocalCopy& copy);

/// Places items from their local copies (one per worker). A copy is hashed unless known
/// unchanged (see hashed_when_placed), its size checked, and placed by fs::FilePlacer
/// (a reflink, a hard link when allowed, else a copy).
class LocalCopyPlacer {
public:
  /// `placer` is shared by the download's workers.
  LocalCopyPlacer(fs::FilePlacer& placer, const RunContext& run) : m_placer(placer), m_run(run) {}

  /// Whether `item` is recorded as in place already (DownloadOptions::in_place: found by the
  /// clean as the very file placing would make); then counted as placed from a local copy.
  bool in_place(const source::Item& item);

  /// Places a local copy of `item` as `name` in the folder open as `folder` (`fresh`: created
  /// by this run) and counts it; false when there is none, or when the copy fails its check
  /// (LocalCopies::failed is told, a warning logged) or cannot be placed: fetch the item then.
  /// Throws error::Interrupted.
  bool place(const source::Item& item, int folder, const std::string& name, bool fresh);

private:
  std::uint64_t place_copy(const source::Item& item, int folder, const std::string& name,
                           bool fresh, const LocalCopy& copy);
  void verify(const source::Item& item, const LocalCopy& copy, bool hashed);

  fs::FilePlacer& m_placer;
  const RunContext& m_run;
  hash::FileHasher m_hasher;
};

} // namespace shared::transfer
