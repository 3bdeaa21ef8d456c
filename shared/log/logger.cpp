#include "shared/log/logger.hpp"

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <stdexcept>

namespace shared::log {
namespace {

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  std::size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

std::string escape(std::string_view text, std::string_view percent) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
    case '%':
      out.append(percent);
      break;
    case '\r':
      out.append("%0D");
      break;
    case '\n':
      out.append("%0A");
      break;
    default:
      out.push_back(c);
    }
  }
  return out;
}

// Text from outside (file names, server messages) must not be able to issue a command of
// its own in a line that is not a command: it stays on one line ("\n" shown as \n), and
// Azure's "##vso[" and "##[" or GitHub's leading "::" are broken up.
std::string neutralize(Dialect dialect, std::string_view text) {
  if (dialect == Dialect::plain) {
    return std::string(text);
  }
  std::string out = replace_all(replace_all(std::string(text), "\r", "\\r"), "\n", "\\n");
  if (dialect == Dialect::azure) {
    out = replace_all(std::move(out), "##vso[", "##vso\u200b[");
    return replace_all(std::move(out), "##[", "##\u200b[");
  }
  if (out.rfind("::", 0) == 0) {
    out.insert(0, " ");
  }
  return out;
}

} // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return std::nullopt;
    }
    return std::string(value);
  };
}

Dialect detect_dialect(const EnvLookup& env) {
  if (env("TF_BUILD")) {
    return Dialect::azure;
  }
  if (env("GITHUB_ACTIONS")) {
    return Dialect::github;
  }
  return Dialect::plain;
}

Dialect parse_dialect(std::string_view name, const EnvLookup& env) {
  if (name == "auto") {
    return detect_dialect(env);
  }
  if (name == "plain") {
    return Dialect::plain;
  }
  if (name == "azure") {
    return Dialect::azure;
  }
  if (name == "github") {
    return Dialect::github;
  }
  throw std::invalid_argument("expected auto, plain, azure or github, got \"" + std::string(name) +
                              "\"");
}

std::string escape_azure_data(std::string_view text) {
  return escape(text, "%AZP25");
}

std::string escape_github_data(std::string_view text) {
  return escape(text, "%25");
}

Logger::Logger(Dialect dialect, std::ostream& out, std::ostream& err)
    : m_dialect(dialect), m_out(&out), m_err(err) {}

void Logger::add_secret(const std::string& secret) {
  if (secret.empty()) {
    return;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  if (std::find(m_secrets.begin(), m_secrets.end(), secret) != m_secrets.end()) {
    return;
  }
  m_secrets.push_back(secret);
  // Longest first, so that a secret containing another is masked whole.
  std::sort(m_secrets.begin(), m_secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  // The agent masks the value in its own logs from here on; the command line itself is
  // consumed by the agent and never shown.
  if (m_dialect == Dialect::github) {
    *m_out << "::add-mask::" << escape_github_data(secret) << '\n' << std::flush;
  } else if (m_dialect == Dialect::azure) {
    *m_out << "##vso[task.setsecret]" << escape_azure_data(secret) << '\n' << std::flush;
  }
}

std::string Logger::mask(std::string_view text) const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return mask_locked(text);
}

std::string Logger::mask_locked(std::string_view text) const {
  std::string out(text);
  for (const auto& secret : m_secrets) {
    out = replace_all(std::move(out), secret, "***");
  }
  return out;
}

void Logger::write_line(std::ostream& stream, std::string_view line) {
  if (!m_status_line.empty()) {
    m_err << "\r\033[K";
  }
  stream << line << '\n' << std::flush;
  if (!m_status_line.empty()) {
    m_err << m_status_line << std::flush;
  }
}

void Logger::debug(std::string_view message) {
  if (!m_verbose) {
    return;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::string text = mask_locked(message);
  switch (m_dialect) {
  case Dialect::azure:
    write_line(*m_out, "##[debug]" + neutralize(m_dialect, text));
    break;
  case Dialect::github:
    write_line(*m_out, "::debug::" + escape_github_data(text));
    break;
  case Dialect::plain:
    write_line(m_err, "debug: " + text);
    break;
  }
}

void Logger::info(std::string_view message) {
  std::lock_guard<std::mutex> lock(m_mutex);
  write_line(*m_out, neutralize(m_dialect, mask_locked(message)));
}

void Logger::warning(std::string_view message) {
  std::lock_guard<std::mutex> lock(m_mutex);
  ++m_warnings;
  const std::string text = mask_locked(message);
  switch (m_dialect) {
  case Dialect::azure:
    write_line(*m_out, "##vso[task.logissue type=warning]" + escape_azure_data(text));
    break;
  case Dialect::github:
    write_line(*m_out, "::warning::" + escape_github_data(text));
    break;
  case Dialect::plain:
    write_line(m_err, "warning: " + text);
    break;
  }
}

void Logger::error(std::string_view message) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::string text = mask_locked(message);
  switch (m_dialect) {
  case Dialect::azure:
    write_line(*m_out, "##vso[task.logissue type=error]" + escape_azure_data(text));
    break;
  case Dialect::github:
    write_line(*m_out, "::error::" + escape_github_data(text));
    break;
  case Dialect::plain:
    write_line(m_err, "error: " + text);
    break;
  }
}

void Logger::group_begin(std::string_view title) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::string text = mask_locked(title);
  switch (m_dialect) {
  case Dialect::azure:
    write_line(*m_out, "##[group]" + neutralize(m_dialect, text));
    break;
  case Dialect::github:
    write_line(*m_out, "::group::" + escape_github_data(text));
    break;
  case Dialect::plain:
    write_line(*m_out, text);
    break;
  }
}

void Logger::group_end() {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_dialect == Dialect::azure) {
    write_line(*m_out, "##[endgroup]");
  } else if (m_dialect == Dialect::github) {
    write_line(*m_out, "::endgroup::");
  }
}

void Logger::set_progress(int percent, std::string_view operation) {
  if (m_dialect != Dialect::azure) {
    return;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  percent = std::clamp(percent, 0, 100);
  write_line(*m_out, "##vso[task.setprogress value=" + std::to_string(percent) + ";]" +
                         escape_azure_data(mask_locked(operation)));
}

void Logger::complete(Result result, std::string_view message) {
  if (m_dialect != Dialect::azure) {
    return;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  const char* name = result == Result::succeeded               ? "Succeeded"
                     : result == Result::succeeded_with_issues ? "SucceededWithIssues"
                                                               : "Failed";
  write_line(*m_out, std::string("##vso[task.complete result=") + name + ";]" +
                         escape_azure_data(mask_locked(message)));
}

void Logger::set_status_line(std::string_view text) {
  std::lock_guard<std::mutex> lock(m_mutex);
  const std::string masked = mask_locked(text);
  if (masked.empty() && m_status_line.empty()) {
    return;
  }
  m_err << "\r\033[K" << masked << std::flush;
  m_status_line = masked;
}

std::size_t Logger::warning_count() const {
  std::lock_guard<std::mutex> lock(m_mutex);
  return m_warnings;
}

} // namespace shared::log
