#include "shared/progress/progress.hpp"

#include "shared/format/units.hpp"

#include <unistd.h>

namespace shared::progress {

std::string describe(const std::string& operation, const std::string& noun, const Snapshot& s) {
  std::string text = operation + ": " + format::count(s.items_done);
  if (s.items_total > 0) {
    text += "/" + format::count(s.items_total);
  }
  text += " " + noun + ", " + format::bytes(s.bytes_done);
  if (s.bytes_total > 0) {
    text += "/" + format::bytes(s.bytes_total);
  }
  text += ", " + format::rate(s.bytes_done, s.seconds);
  if (s.seconds > 0 && s.bytes_total > s.bytes_done && s.bytes_done > 0) {
    const double remaining = static_cast<double>(s.bytes_total - s.bytes_done);
    text += ", ETA " + format::duration(remaining * s.seconds / static_cast<double>(s.bytes_done));
  } else if (s.seconds > 0 && s.bytes_total == 0 && s.items_total > s.items_done &&
             s.items_done > 0) {
    const double remaining = static_cast<double>(s.items_total - s.items_done);
    text += ", ETA " + format::duration(remaining * s.seconds / static_cast<double>(s.items_done));
  }
  return text;
}

int percent(const Snapshot& s) {
  if (s.bytes_total > 0) {
    return static_cast<int>(100 * std::min(s.bytes_done, s.bytes_total) / s.bytes_total);
  }
  if (s.items_total > 0) {
    return static_cast<int>(100 * std::min(s.items_done, s.items_total) / s.items_total);
  }
  return 0;
}

Mode choose_mode(const log::Logger& logger, bool quiet) {
  if (quiet) {
    return Mode::off;
  }
  if (logger.dialect() == log::Dialect::plain && ::isatty(STDERR_FILENO)) {
    return Mode::terminal;
  }
  return Mode::log;
}

Reporter::Reporter(log::Logger& logger, Mode mode, std::string operation, std::string noun,
                   std::uint64_t items_total, std::uint64_t bytes_total)
    : m_logger(logger), m_mode(mode), m_operation(std::move(operation)), m_noun(std::move(noun)),
      m_items_total(items_total), m_bytes_total(bytes_total),
      m_start(std::chrono::steady_clock::now()) {
  if (m_mode != Mode::off) {
    m_thread = std::thread([this] { run(); });
  }
}

Reporter::~Reporter() {
  stop();
}

Snapshot Reporter::snapshot() const {
  Snapshot s;
  s.items_done = m_items.load(std::memory_order_relaxed);
  s.items_total = m_items_total;
  s.bytes_done = m_bytes.load(std::memory_order_relaxed);
  s.bytes_total = m_bytes_total;
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
  return s;
}

void Reporter::stop() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (m_stopping) {
      return;
    }
    m_stopping = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
  if (m_mode == Mode::terminal) {
    m_logger.set_status_line("");
  }
}

void Reporter::run() {
  const auto interval =
      m_mode == Mode::terminal
          ? std::chrono::duration_cast<std::chrono::milliseconds>(k_terminal_interval)
          : std::chrono::duration_cast<std::chrono::milliseconds>(k_log_interval);
  std::unique_lock<std::mutex> lock(m_mutex);
  while (!m_wake.wait_for(lock, interval, [this] { return m_stopping; })) {
    lock.unlock();
    const Snapshot s = snapshot();
    const std::string text = describe(m_operation, m_noun, s);
    if (m_mode == Mode::terminal) {
      m_logger.set_status_line(text);
    } else {
      m_logger.info(text);
      m_logger.set_progress(percent(s), m_operation);
    }
    lock.lock();
  }
}

} // namespace shared::progress
