// download-artifact's batch mode: whether a file is already complete under its final name, so
// that the batch need not download it again.
#pragma once

#include "shared/hash/sha256.hpp"
#include "shared/source/drs.hpp"

#include <functional>
#include <optional>
#include <string>

namespace tasks::download_artifact {

/// Whether `path` (absolute or relative to the working directory) already holds `object` as
/// the batch saves it. provider drs (`c4gh` false): a regular file of the object's size, with
/// the SHA-256 `sha256` when given. provider ghga (`c4gh` true): a Crypt4GH header exactly as
/// long as the bytes beyond the object's size (at most 1 MiB), then the body, with `sha256`
/// when given; the header is not decrypted (that needs the user's secret key), so whether it
/// was made for the current key is not known. A file that cannot be read is not complete.
/// Throws shared::error::Interrupted when `cancelled` (may be empty) returns true while hashing.
bool already_downloaded(const std::string& path, const shared::source::DrsObject& object,
                        const std::optional<shared::hash::Digest>& sha256, bool c4gh,
                        const std::function<bool()>& cancelled);

} // namespace tasks::download_artifact
