// An object store in a local folder: object "a/b.zip" is the file <folder>/a/b.zip, written as
// <file>.part and renamed into place when committed (fs::PartFile), so a reader never sees a
// partial object. Its read URL is a path on the service that serves the folder.
#pragma once

#include "shared/store/object_store.hpp"

#include <string>

namespace shared::store {

/// Objects as files under one folder.
class LocalStore : public ObjectStore {
public:
  /// `folder` (absolute or relative to the working directory) is created when missing;
  /// `url_base` is what read_url() puts before the name ("/downloads/" gives
  /// "/downloads/<name>"). Throws error::IoError when the folder cannot be created.
  LocalStore(std::string folder, std::string url_base = "/downloads/");

  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  /// url_base + name; `valid_for` is not enforced (the service serves what exists).
  std::string read_url(const std::string& name, std::chrono::seconds valid_for) override;
  bool remove(const std::string& name) override;
  bool exists(const std::string& name) override;
  std::optional<std::string> local_path(const std::string& name) const override;
  std::string describe() const override { return m_folder; }

  const std::string& folder() const { return m_folder; }

private:
  std::string path_of(const std::string& name) const;

  std::string m_folder;
  std::string m_url_base;
};

} // namespace shared::store
