// A temporary folder per test, removed with everything in it when the test ends.
#pragma once

#include <string>
#include <string_view>

namespace tests::support {

/// mkdtemp under $TMPDIR (or /tmp); removed recursively by the destructor.
class TempDir {
public:
  /// In $TMPDIR, else /tmp.
  TempDir();
  /// In the existing folder `parent` (e.g. one on another filesystem than $TMPDIR).
  explicit TempDir(const std::string& parent);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return m_path; }
  /// path() + "/" + relative.
  std::string operator/(std::string_view relative) const;

private:
  std::string m_path;
};

/// Writes `content` to `path`, creating parent folders.
void write_file(const std::string& path, std::string_view content);

/// The whole content of `path`; throws std::runtime_error when it cannot be read.
std::string read_file(const std::string& path);

/// Whether anything (file, folder, link) exists at `path`.
bool exists(const std::string& path);

} // namespace tests::support
