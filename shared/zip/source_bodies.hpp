// File bodies for the ZIP writer from a download source (a web store or file share): each
// body is fetched by the source's reader on a thread of its own and handed to the writer
// through a bounded buffer, so remote files stream through the writer and nothing is staged
// on disk.
#pragma once

#include "shared/source/source.hpp"
#include "shared/zip/io.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace shared::zip {

/// Opens an entry's body by fetching the source item named by Entry::source_or_path(). Readers
/// (connections) are reused from body to body, so one keep-alive connection serves a whole
/// archive written in order. Bodies are read from their first byte only (offset 0):
/// a web store's bodies cannot be ranged here.
class SourceBodyProvider : public BodyProvider {
public:
  /// `items`: the listing's items by the name entries give as their source. Both `source`
  /// and the items must outlive the provider.
  SourceBodyProvider(source::Source& source,
                     std::unordered_map<std::string, const source::Item*> items);
  ~SourceBodyProvider() override;

  /// Starts fetching the item; the reader's read() waits for its bytes. Throws
  /// std::out_of_range for an unknown name, std::invalid_argument for an offset other than 0.
  /// The reader's read() throws what the fetch threw (http::HttpStatusError, NetworkError…),
  /// and error::IoError when a retry would send again bytes already handed to the writer.
  std::unique_ptr<BodyReader> open(const Entry& entry, std::uint64_t offset) override;

  /// Buffered bytes between the fetching thread and the writer, at most.
  static constexpr std::size_t k_buffer_bytes = 1 << 20;

private:
  struct ReaderPool {
    std::mutex mutex;
    std::vector<std::unique_ptr<source::Reader>> readers; // idle, keep-alive connections
  };

  source::Source& m_source;
  std::unordered_map<std::string, const source::Item*> m_items;
  std::shared_ptr<ReaderPool> m_pool; // shared with bodies still fetching
};

} // namespace shared::zip
