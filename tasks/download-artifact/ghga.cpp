#include "tasks/download-artifact/ghga.hpp"

#include "shared/crypt4gh/crypt4gh.hpp"
#include "shared/error/error.hpp"
#include "shared/format/units.hpp"

#include <algorithm>
#include <stdexcept>

namespace tasks::download_artifact {

void use_work_package(const shared::source::WorkPackageSource& source, const std::string& key_path,
                      const std::string& key_input, const std::vector<std::string>& only,
                      BatchOptions& batch, shared::log::Logger& logger) {
  using shared::error::UsageError;
  namespace crypt4gh = shared::crypt4gh;
  const shared::source::WorkPackage package = source.fetch();
  if (key_path.empty()) {
    throw UsageError(key_input + ": provider ghga needs your Crypt4GH public key file");
  }
  crypt4gh::PublicKey mine{};
  try {
    mine = crypt4gh::read_public_key_file(key_path);
  } catch (const std::invalid_argument& e) {
    throw UsageError(key_input + ": " + e.what());
  }
  if (mine != package.user_public_key) {
    throw UsageError(key_input + ": the key in " + key_path + " (" + crypt4gh::to_base64(mine) +
                     ") is not the one of the work package (" +
                     crypt4gh::to_base64(package.user_public_key) +
                     "): give the public key the work package was made for");
  }
  batch.ghga = true;
  batch.ids.clear();
  batch.extensions.clear();
  for (const auto& file : package.files) {
    batch.extensions[file.id] = file.extension;
  }
  if (only.empty()) {
    for (const auto& file : package.files) {
      batch.ids.push_back(file.id);
    }
  } else {
    for (const auto& id : only) {
      if (batch.extensions.count(id) == 0) {
        throw UsageError("--files: " + id + " is not in the work package (" + source.describe() +
                         ")");
      }
      batch.ids.push_back(id);
    }
  }
  logger.info("Work package (" + source.describe() + ") of user " + package.user_id + ": " +
              shared::format::count(package.files.size()) + " files; public key " +
              crypt4gh::to_base64(mine) + " matches");
}

} // namespace tasks::download_artifact
