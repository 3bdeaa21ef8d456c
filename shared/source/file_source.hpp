// A file share drop (Azure Pipelines "file share" artifacts): a folder given as a path or a
// file:// URL.
#pragma once

#include "shared/source/source.hpp"

namespace shared::source {

/// Lists a folder by walking it (symlinks are skipped with a warning; empty folders are
/// items), with hashes from its root artifact-metadata.csv when present and valid.
class FileSource : public Source {
public:
  /// `root`: an existing folder. `logger` receives warnings.
  FileSource(std::string root, log::Logger& logger);

  std::string describe() const override { return m_root; }
  std::string cache_key() const override;
  Listing list() override;
  std::unique_ptr<Reader> open_reader() override;
  bool supports_ranges() const override { return true; }

private:
  std::string m_root;
  log::Logger& m_logger;
};

/// The folder a file:// URL names (percent-decoded); other text is returned as it is.
std::string path_from_file_url(const std::string& location);

} // namespace shared::source
