// One large file from a DRS access URL in parts: HTTP Range requests (RFC 9110 §14), several
// at once, each written at its offset into the file's part file by the download engine's
// segment code (SegmentedItem), with a fresh URL after a 403 (source::AccessUrlReader).
#pragma once

#include "shared/hash/sha256.hpp"
#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"
#include "shared/progress/progress.hpp"
#include "shared/source/access_url.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace shared::transfer {

/// How to fetch the parts.
struct RangedOptions {
  /// Bytes a Range request asks for; the last parallel x part_size bytes of a file go in parts
  /// of part_size / parallel (at least 1 MiB, never more than part_size), so that the SHA-256,
  /// which follows the written prefix, has little left to read when the last part lands.
  std::uint64_t part_size = 64ull << 20;
  unsigned parallel = 8; ///< parts in flight
  /// For the requests to the access URL. Its credentials (token, user, password) are never
  /// sent there: a presigned URL carries its own, in the URL or its headers.
  http::ClientOptions http;
  /// A part fails when this many fresh URLs it asked for after a 403, and tried before any
  /// other part, answered it 403 too (at least 1). A 403 on a URL other parts may have used up
  /// (few-use presigned URLs) does not count: it gets a fresh URL.
  int refreshes_per_part = 2;
};

/// What download_ranged() did.
struct RangedResult {
  std::uint64_t bytes = 0;         ///< the file's size: head and body
  std::uint64_t retries = 0;       ///< request retries of the HTTP clients
  std::uint64_t part_attempts = 0; ///< part requests made again after a 403
  std::uint64_t refreshed = 0;     ///< fresh URLs asked for
  /// 1 when the SHA-256, computed as the parts landed, had to be computed again by a second
  /// read (a part it had read was restarted); 0 otherwise.
  std::uint64_t rehashed = 0;
};

/// Downloads `size` bytes from `url` into "<final_path>.part" in parts of options.part_size,
/// options.parallel at a time, each written at its offset; a part that fails is retried alone
/// (the HTTP client's retries, then after a 403 with a URL from `refresh`, which may block and
/// throw), while the parts already written stay. `refresh` is called once per URL however many
/// parts it answered 403, and the part that asked tries the fresh URL before the others start
/// a request on it (see refreshes_per_part). The finished file is checked against `sha256`
/// when given, flushed (fs::Durability::flush) and renamed to `final_path` (absolute or
/// relative to the working directory); the SHA-256 is computed while the parts land, following
/// the written prefix of the file (a second read only when a part it had read was restarted).
/// On any failure the part file is deleted and the error rethrown: error::IntegrityError
/// (checksum or size), http::ProtocolError (a status other than 206 to a Range request),
/// http::HttpStatusError, NetworkError, error::IoError, error::Interrupted
/// (options.http.cancelled: the parts stop within one buffer). `progress` sees the bytes of
/// the body. `head` (may be empty) is written first: the file is then `head` followed by the
/// `size` bytes of the body (a Crypt4GH envelope and the encrypted body, GHGA); `sha256` and
/// `size` are the body's.
RangedResult download_ranged(const std::string& final_path, std::uint64_t size,
                             const std::optional<hash::Digest>& sha256,
                             const source::AccessUrl& url,
                             const std::function<source::AccessUrl()>& refresh,
                             const RangedOptions& options, log::Logger& logger,
                             progress::Reporter& progress, std::string_view head = {});

} // namespace shared::transfer
