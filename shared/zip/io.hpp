// Where archive bytes go (Sink) and where file bodies come from (BodyProvider), as interfaces
// so that the writers serve files, standard output and HTTP responses, from local or remote
// files, the same way; plus the local implementations.
#pragma once

#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/zip/entry.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace shared::zip {

/// The writers' buffer size in bytes: bodies are read and archive bytes handed to the Sink in
/// blocks of at most this size, and a failing Sink stops them within one block.
inline constexpr std::size_t k_buffer_size = 256 * 1024;

/// Takes the archive's bytes in order. The writers call write() with at most
/// k_buffer_size bytes at a time.
class Sink {
public:
  virtual ~Sink() = default;
  /// Takes `size` bytes. Returns false when it cannot take them (the reader went away): the
  /// writer then throws SinkClosed at once, without reading further bodies. May also throw.
  virtual bool write(const char* data, std::size_t size) = 0;

  /// Whether write_file() may be used: Layout::write_range() then hands it the parts of
  /// bodies that are open local files instead of copying them through its buffer (zero-copy,
  /// e.g. sendfile(2) to a socket). Default: no.
  virtual bool accepts_files() const { return false; }
  /// Takes `count` bytes of the open file `fd` from byte `offset` on, in order after the bytes
  /// of earlier write() calls, at most k_buffer_size bytes at a time between checks that the
  /// reader is still there. Returns false as write() does. Throws error::IntegrityError when
  /// the file ends before `count` bytes. Only called when accepts_files().
  virtual bool write_file(int fd, std::uint64_t offset, std::uint64_t count);
};

/// Thrown by the writers when Sink::write() returned false. An IoError (exit status 5).
class SinkClosed : public error::IoError {
public:
  SinkClosed() : error::IoError("the ZIP output was closed before the archive was complete") {}
};

/// A Sink writing to a file descriptor (a file, a pipe, standard output). write() retries
/// short writes and EINTR, returns false on EPIPE (the reading end was closed; SIGPIPE must be
/// ignored, or it ends the process first) and throws error::IoError naming `name` on any other
/// failure. Does not own `fd`.
class FdSink : public Sink {
public:
  FdSink(int fd, std::string name) : m_fd(fd), m_name(std::move(name)) {}
  bool write(const char* data, std::size_t size) override;

private:
  int m_fd;
  std::string m_name;
};

/// Reads one body from some offset on.
class BodyReader {
public:
  virtual ~BodyReader() = default;
  /// Reads the next bytes into `buffer`, at most `size` (> 0). Returns how many; 0 only at the
  /// end of the body. Throws (e.g. error::IoError) when the body cannot be read.
  virtual std::size_t read(char* buffer, std::size_t size) = 0;

  /// For a body that is a local regular file read as it is: its descriptor (owned by the
  /// reader) and the offset in bytes of the next byte read() would give; -1 otherwise.
  virtual int file_descriptor() const { return -1; }
  virtual std::uint64_t file_offset() const { return 0; }
};

/// Opens file bodies, local or remote. The writers open one body at a time and read it into
/// their own buffer, so memory does not depend on file sizes.
class BodyProvider {
public:
  virtual ~BodyProvider() = default;
  /// Opens the body of the file entry `entry` (EntryKind::file) positioned `offset` bytes
  /// into it: 0 when a whole body is written, more when a range of an archive starts inside
  /// it. Throws (e.g. error::IoError naming the file) when it cannot be opened.
  virtual std::unique_ptr<BodyReader> open(const Entry& entry, std::uint64_t offset) = 0;
};

/// Bodies from files under a local root folder: entry.source_or_path() is opened relative to
/// the root with open_regular_file, so that no symlink is followed (in or out of the tree), and
/// read with pread(2) at the needed offset. Opens and reads throw error::IoError naming the
/// root-relative path (also when it is not a regular file); a file whose size is no longer
/// entry.size throws error::IntegrityError (it changed since listed).
class LocalBodyProvider : public BodyProvider {
public:
  /// Opens `root` (absolute or relative to the working directory) as the root folder. Throws
  /// error::IoError when it cannot be opened as a folder.
  explicit LocalBodyProvider(const std::string& root);

  std::unique_ptr<BodyReader> open(const Entry& entry, std::uint64_t offset) override;

  /// The root folder's descriptor (valid while this provider lives), e.g. for file_crc32().
  int root_fd() const { return m_root_fd.get(); }

private:
  fs::Descriptor m_root_fd;
};

/// Opens `path` for reading, relative to the folder open as `root_fd` (or AT_FDCWD) and never
/// leaving it, or absolute, following no symlink in any segment (fs::open_beneath); it must be
/// a regular file (a FIFO is not waited on). Sets `*size` (bytes) when `size` is given.
/// Throws error::IoError naming `path`: a symlink, "..", a missing file, not a regular file.
fs::Descriptor open_regular_file(int root_fd, const std::string& path,
                                 std::uint64_t* size = nullptr);

} // namespace shared::zip
