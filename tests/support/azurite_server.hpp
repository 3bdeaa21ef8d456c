// A private Azurite (the Azure Storage emulator from npm, azurite@3.35.0: the newest that runs
// on Node.js 20) serving the Blob service on a free loopback port with the well-known
// development account. Installed once per build folder with `npm install` (AZURITE_CACHE_DIR,
// under build/), started with --disableTelemetry --silent, stopped by the destructor.
#pragma once

#include "tests/support/background_process.hpp"

#include <memory>
#include <optional>
#include <string>

namespace tests::support {

class AzuriteServer {
public:
  /// The development account and its key (Azurite's documentation).
  static constexpr const char* k_account = "devstoreaccount1";
  static constexpr const char* k_key =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  /// Installs Azurite into `cache_folder` when it is not there yet (under a lock file, so that
  /// test processes running at once install it once). nullopt when it is ready, else why it
  /// cannot be (no npm, the registry unreachable …): tests then WARN that and skip.
  static std::optional<std::string> install(const std::string& cache_folder);

  /// Starts azurite-blob from `cache_folder` (install() must have succeeded) with its data in
  /// a temporary folder. Throws std::runtime_error with its log when it does not accept
  /// connections within 20 s.
  explicit AzuriteServer(const std::string& cache_folder);
  ~AzuriteServer();
  AzuriteServer(const AzuriteServer&) = delete;
  AzuriteServer& operator=(const AzuriteServer&) = delete;

  int port() const { return m_port; }
  /// The blob endpoint, path-style: "http://127.0.0.1:<port>/devstoreaccount1".
  std::string endpoint() const;

private:
  std::string m_folder;
  int m_port = 0;
  std::unique_ptr<BackgroundProcess> m_process;
};

} // namespace tests::support
