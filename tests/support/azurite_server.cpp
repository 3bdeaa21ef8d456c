#include "tests/support/azurite_server.hpp"

#include "tests/support/loopback.hpp"
#include "tests/support/process.hpp"

#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace tests::support {
namespace {

constexpr const char* k_package = "azurite@3.35.0";

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream path_folders(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string folder; std::getline(path_folders, folder, ':');) {
    const std::string candidate = folder + "/" + name;
    if (!folder.empty() && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::string binary_in(const std::string& cache_folder) {
  return cache_folder + "/node_modules/.bin/azurite-blob";
}

} // namespace

std::optional<std::string> AzuriteServer::install(const std::string& cache_folder) {
  std::error_code ec;
  std::filesystem::create_directories(cache_folder, ec);
  if (ec) {
    return "cannot create " + cache_folder + ": " + ec.message();
  }
  const int lock = ::open((cache_folder + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock < 0) {
    return "cannot open " + cache_folder + "/.lock";
  }
  ::flock(lock, LOCK_EX);
  std::optional<std::string> problem;
  if (::access(binary_in(cache_folder).c_str(), X_OK) != 0) {
    const std::string npm = find_on_path("npm");
    if (npm.empty() || find_on_path("node").empty()) {
      problem = "Azurite needs Node.js and npm (run scripts/install-deps.sh)";
    } else {
      const auto result = run_process({npm, "install", "--prefix", cache_folder, "--no-audit",
                                       "--no-fund", "--no-save", "--loglevel=error", k_package});
      if (result.exit_code != 0 || ::access(binary_in(cache_folder).c_str(), X_OK) != 0) {
        problem = std::string("npm install ") + k_package + " failed (exit " +
                  std::to_string(result.exit_code) + "): " + result.err.substr(0, 2000);
      }
    }
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  return problem;
}

AzuriteServer::AzuriteServer(const std::string& cache_folder) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/at-azurite-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  m_folder = pattern;
  const std::string node = find_on_path("node");
  for (int attempt = 0; attempt < 5 && !m_process; ++attempt) {
    m_port = free_port();
    // node runs the package's script directly: no npx and no shell in between.
    auto process = std::make_unique<BackgroundProcess>(
        std::vector<std::string>{node, binary_in(cache_folder), "--blobHost", "127.0.0.1",
                                 "--blobPort", std::to_string(m_port), "--location",
                                 m_folder + "/data", "--silent", "--disableTelemetry"},
        m_folder + "/azurite.log");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    bool up = false;
    while (std::chrono::steady_clock::now() < deadline && process->running()) {
      if (accepts_connections(m_port)) {
        up = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (up) {
      m_process = std::move(process);
    } else if (process->running() || process->log().find("EADDRINUSE") == std::string::npos) {
      const std::string log = process->log();
      process.reset();
      std::error_code ignored;
      std::filesystem::remove_all(m_folder, ignored);
      throw std::runtime_error("Azurite did not start; its log:\n" + log);
    }
  }
  if (!m_process) {
    std::error_code ignored;
    std::filesystem::remove_all(m_folder, ignored);
    throw std::runtime_error("Azurite could not bind a free port in 5 attempts");
  }
}

AzuriteServer::~AzuriteServer() {
  m_process.reset();
  std::error_code ignored;
  std::filesystem::remove_all(m_folder, ignored);
}

std::string AzuriteServer::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(m_port) + "/" + k_account;
}

} // namespace tests::support
