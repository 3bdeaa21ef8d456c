#include "tasks/download-artifact/already_downloaded.hpp"

#include "shared/crypt4gh/crypt4gh.hpp"
#include "shared/error/error.hpp"
#include "shared/fs/descriptor.hpp"
#include "shared/hash/file_hasher.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tasks::download_artifact {
namespace {

// The largest Crypt4GH envelope looked for at the start of an existing .c4gh file (bytes);
// DrsClient::envelope() takes at most 1 MiB of base64.
constexpr std::uint64_t k_max_envelope = 1u << 20;

// Throws error::Interrupted once SIGINT/SIGTERM arrived (the run's cancel flag).
void stop_if_cancelled(const std::function<bool()>& cancelled) {
  if (cancelled && cancelled()) {
    throw shared::error::Interrupted();
  }
}

// Whether `path` already holds the object: its size, and its SHA-256 when the object has one.
bool complete(const std::string& path, const shared::source::DrsObject& object,
              const std::optional<shared::hash::Digest>& sha256,
              const std::function<bool()>& cancelled) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::uint64_t>(info.st_size) != object.size) {
    return false;
  }
  if (!sha256) {
    return true;
  }
  shared::hash::FileHasher hasher;
  return hasher.hash_file(path, [&cancelled](std::size_t) { stop_if_cancelled(cancelled); })
             .sha256 == *sha256;
}

// Whether `path` already holds a GHGA download of the object: a Crypt4GH header whose length
// (from its packets' length fields) is exactly what the file holds beyond the object's size,
// then the body with the object's SHA-256 when it has one. The header is not decrypted (that
// needs the user's secret key): whether it was made for the current key is not known.
bool complete_c4gh(const std::string& path, const shared::source::DrsObject& object,
                   const std::optional<shared::hash::Digest>& sha256,
                   const std::function<bool()>& cancelled) {
  // O_NONBLOCK: a FIFO under that name must not block the run (no effect on regular files).
  const shared::fs::Descriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  const int fd = file.get();
  if (fd < 0) {
    return false;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode) ||
      static_cast<std::uint64_t>(info.st_size) <= object.size ||
      static_cast<std::uint64_t>(info.st_size) - object.size > k_max_envelope) {
    return false;
  }
  const auto head =
      static_cast<std::size_t>(static_cast<std::uint64_t>(info.st_size) - object.size);
  std::string envelope(head, '\0');
  if (::pread(fd, envelope.data(), head, 0) != static_cast<ssize_t>(head) ||
      shared::crypt4gh::header_length(envelope) != head) {
    return false;
  }
  if (!sha256) {
    return true;
  }
  if (::lseek(fd, static_cast<off_t>(head), SEEK_SET) < 0) {
    return false;
  }
  shared::hash::FileHasher hasher;
  return hasher.hash_fd(fd, path, [&cancelled](std::size_t) { stop_if_cancelled(cancelled); })
             .sha256 == *sha256;
}

} // namespace

bool already_downloaded(const std::string& path, const shared::source::DrsObject& object,
                        const std::optional<shared::hash::Digest>& sha256, bool c4gh,
                        const std::function<bool()>& cancelled) {
  return c4gh ? complete_c4gh(path, object, sha256, cancelled)
              : complete(path, object, sha256, cancelled);
}

} // namespace tasks::download_artifact
