// download-artifact --provider ghga: a batch (batch.hpp) whose files, extensions and keys come
// from a GHGA work package, checked against the user's own public key first.
#pragma once

#include "shared/log/logger.hpp"
#include "shared/source/work_package.hpp"
#include "tasks/download-artifact/batch.hpp"

#include <string>
#include <vector>

namespace tasks::download_artifact {

/// Fills `batch` (ids, extensions, ghga) from the work package of `source`, after checking that
/// the Crypt4GH public key file at `key_path` (absolute or relative to the working directory;
/// the myPublicKeyPath input, named `key_input` in messages, e.g. "--my-public-key-path") is
/// the work package's user key. `only`: the files input's ids (may be empty = every file of
/// the work package); each must be in the work package. Makes no request. Throws
/// error::UsageError, one line naming the input or variable: no key path, an unreadable or
/// malformed key file, a key that is not the work package's, an id not in the work package,
/// and whatever source.fetch() throws.
void use_work_package(const shared::source::WorkPackageSource& source, const std::string& key_path,
                      const std::string& key_input, const std::vector<std::string>& only,
                      BatchOptions& batch, shared::log::Logger& logger);

} // namespace tasks::download_artifact
