// A GHGA work package: what a user may download and with which keys. For now it
// comes from environment variables; a later client of GHGA's work-package service (WPS) will be
// another WorkPackageSource.
#pragma once

#include "shared/crypt4gh/crypt4gh.hpp"
#include "shared/log/logger.hpp"

#include <string>
#include <vector>

namespace shared::source {

/// One file of a work package.
struct WorkPackageFile {
  std::string id;        ///< the file id (a DRS object id)
  std::string extension; ///< "" or starting with "." (".fastq.gz"); the file is saved as
                         ///< <id><extension>.c4gh
};

/// What the work-package service says about one work package.
struct WorkPackage {
  std::vector<WorkPackageFile> files;    ///< in the order given
  std::string user_id;                   ///< the user's internal GHGA id
  crypt4gh::PublicKey user_public_key;   ///< the user's Crypt4GH key the envelopes are made for
  crypt4gh::PublicKey server_public_key; ///< GHGA's current Crypt4GH key
};

/// Where a work package comes from.
class WorkPackageSource {
public:
  virtual ~WorkPackageSource() = default;
  /// The work package. Throws error::UsageError naming what is missing or malformed.
  virtual WorkPackage fetch() const = 0;
  /// Where it comes from, for logs ("environment variables GHGA_WORK_PACKAGE_*").
  virtual std::string describe() const = 0;
};

/// A work package from environment variables:
///   GHGA_WORK_PACKAGE_FILES              a JSON object of file id -> extension, as the WPS
///                                        answers its `files`: {"GHGAF1": ".fastq.gz", ...};
///                                        a missing leading "." is added; "" = none
///   GHGA_WORK_PACKAGE_USER_ID            the user id
///   GHGA_WORK_PACKAGE_USER_PUBLIC_KEY    the user's public key: base64 of its 32 bytes, or a
///                                        whole Crypt4GH public key file's text
///   GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY  GHGA's public key, in the same forms
/// All four are required. fetch() throws error::UsageError "<variable>: <what is wrong>" for a
/// missing or empty one, a FILES that is not such an object or is empty, an id that is empty or
/// has "/" or a control character, an extension with "/", "\" or a control character, a key
/// that is not a public key.
class EnvWorkPackageSource : public WorkPackageSource {
public:
  static constexpr const char* k_files = "GHGA_WORK_PACKAGE_FILES";
  static constexpr const char* k_user_id = "GHGA_WORK_PACKAGE_USER_ID";
  static constexpr const char* k_user_public_key = "GHGA_WORK_PACKAGE_USER_PUBLIC_KEY";
  static constexpr const char* k_server_public_key = "GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY";

  /// `env`: how variables are looked up (log::process_environment() for the process's own).
  explicit EnvWorkPackageSource(log::EnvLookup env);
  WorkPackage fetch() const override;
  std::string describe() const override;

private:
  log::EnvLookup m_env;
};

} // namespace shared::source
