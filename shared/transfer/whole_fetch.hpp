// Fetching one item whole into its part file, verifying it (size, SHA-256) and renaming it
// into place, with item retries after an integrity failure. Internal to the download engine.
#pragma once

#include "shared/fs/part_file.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/source/source.hpp"
#include "shared/transfer/tally.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>

namespace shared::transfer {

/// The first bytes of an item larger than them, in its part file: segments fetch the rest.
struct FirstSegment {
  fs::PartFile part;                    ///< sized to the item
  std::unique_ptr<hash::Sha256> prefix; ///< the SHA-256 state of the first bytes; null when
                                        ///< the hash is not checked
  std::uint64_t bytes = 0;              ///< in the part file
  std::uint64_t size = 0;               ///< of the item
};

/// Fetches items whole through one reader (one per worker).
class WholeFetcher {
public:
  WholeFetcher(source::Reader& reader, const RunContext& run);

  /// Fetches `item` into "<name>.part" in the folder open as `folder` (a leftover part file is
  /// replaced), checks its size and SHA-256 where the listing gives them (the hash unless
  /// skip_validation) and renames it to `name`; counts it in the tally. An integrity failure
  /// deletes the part file and fetches the item again (options.retry), then is thrown
  /// (error::IntegrityError); other errors are thrown at once (what the reader throws,
  /// error::IoError, error::Interrupted), the part file deleted. With `probe` (bytes, 0: none)
  /// the first attempt asks for the first `probe` bytes only: when the item is larger, they are
  /// returned for segments to fetch the rest; when its store cannot send part of it, it is
  /// fetched whole.
  std::optional<FirstSegment> fetch(const source::Item& item, int folder, const std::string& name,
                                    std::uint64_t probe = 0);

private:
  class Sink;

  std::optional<FirstSegment> fetch_once(const source::Item& item, int folder,
                                         const std::string& name, std::uint64_t probe);
  std::optional<std::uint64_t> write_body(const source::Item& item, Sink& sink,
                                          std::uint64_t probe);
  void verify(const source::Item& item, Sink& sink) const;
  FirstSegment hand_over(fs::PartFile part, const Sink& sink, std::uint64_t size) const;
  void wait_before_retry(const source::Item& item, int attempt, const std::string& why);

  source::Reader& m_reader;
  const RunContext& m_run;
  std::mt19937_64 m_random;
};

} // namespace shared::transfer
