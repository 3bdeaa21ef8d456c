// Progress of long work: a live line on a terminal, a line every few seconds in CI logs
// (and task.setprogress on Azure Pipelines), nothing with --quiet.
#pragma once

#include "shared/log/logger.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace shared::progress {

/// Counters at one moment.
struct Snapshot {
  std::uint64_t items_done = 0;
  std::uint64_t items_total = 0; ///< 0 when unknown
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0; ///< 0 when unknown
  double seconds = 0;            ///< since start
};

/// "Hashing: 1,234/5,000 files, 512.0 MB/1.2 GB, 850.3 MB/s, ETA 3.00 s". `noun` names
/// the items ("files").
std::string describe(const std::string& operation, const std::string& noun,
                     const Snapshot& snapshot);

/// Percent done, by bytes when their total is known, else by items; 0 when neither is.
int percent(const Snapshot& snapshot);

/// How progress is shown.
enum class Mode {
  off,      ///< --quiet
  terminal, ///< a live status line redrawn every k_terminal_interval
  log,      ///< a log line every k_log_interval (CI logs, pipes, files)
};

/// off when quiet; terminal when the dialect is plain and stderr is a terminal; else log.
Mode choose_mode(const log::Logger& logger, bool quiet);

/// Counts work done from any thread (lock-free) and reports it from a thread of its own.
class Reporter {
public:
  static constexpr std::chrono::milliseconds k_terminal_interval{200};
  static constexpr std::chrono::seconds k_log_interval{10};

  Reporter(log::Logger& logger, Mode mode, std::string operation, std::string noun,
           std::uint64_t items_total, std::uint64_t bytes_total);
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void add_bytes(std::uint64_t count) { m_bytes.fetch_add(count, std::memory_order_relaxed); }
  /// Takes back bytes counted for an attempt that will be made again.
  void remove_bytes(std::uint64_t count) { m_bytes.fetch_sub(count, std::memory_order_relaxed); }
  void add_item() { m_items.fetch_add(1, std::memory_order_relaxed); }

  Snapshot snapshot() const;

  /// Stops reporting and clears the live line. Called by the destructor too.
  void stop();

private:
  void run();

  log::Logger& m_logger;
  Mode m_mode;
  std::string m_operation;
  std::string m_noun;
  std::uint64_t m_items_total;
  std::uint64_t m_bytes_total;
  std::chrono::steady_clock::time_point m_start;
  std::atomic<std::uint64_t> m_items{0};
  std::atomic<std::uint64_t> m_bytes{0};
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stopping = false;
  std::thread m_thread;
};

} // namespace shared::progress
