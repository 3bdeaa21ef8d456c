#include "tests/support/serve_process.hpp"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/String.h>
#include <Poco/Timespan.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <dirent.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unistd.h>

namespace tests::support {
namespace {

int count_entries(const std::string& folder) {
  DIR* stream = ::opendir(folder.c_str());
  if (stream == nullptr) {
    return -1;
  }
  int n = 0;
  while (const dirent* entry = ::readdir(stream)) {
    n += entry->d_name[0] == '.' ? 0 : 1;
  }
  ::closedir(stream);
  return n;
}

std::string dechunk(const std::string& body) {
  std::string out;
  std::size_t pos = 0;
  while (pos < body.size()) {
    const auto line_end = body.find("\r\n", pos);
    if (line_end == std::string::npos) {
      break;
    }
    const std::size_t size = std::stoul(body.substr(pos, line_end - pos), nullptr, 16);
    if (size == 0) {
      break;
    }
    out += body.substr(line_end + 2, size);
    pos = line_end + 2 + size + 2;
  }
  return out;
}

} // namespace

ServeProcess::ServeProcess(const std::string& exe, const std::vector<std::string>& args,
                           const ProcessOptions& options) {
  std::vector<std::string> argv = {exe, "serve", "-P", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions own = options; // the job queue and store in the temp folder unless given
  own.set_env.emplace("INPUT_DB", m_folder / "jobs.sqlite");
  own.set_env.emplace("INPUT_STORE", m_folder / "downloads");
  m_process = std::make_unique<BackgroundProcess>(argv, m_folder / "output.log", own);
  const std::regex listening("Listening on http://[^ ]*:([0-9]+)/");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string text = output();
    if (std::regex_search(text, match, listening)) {
      m_port = std::stoi(match[1].str());
      return;
    }
    if (!m_process->running()) {
      throw std::runtime_error("download-dir-zip serve exited (" +
                               std::to_string(m_process->wait()) + "): " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const std::string text = output();
  stop();
  throw std::runtime_error("download-dir-zip serve did not listen within 10 s: " + text);
}

ServeProcess::~ServeProcess() {
  const bool running = m_process->running();
  const int status = stop();
  const std::string text = output();
  INFO(text);
  // A sanitizer report or a failed exit (a leak at exit is one) fails the test.
  CHECK_FALSE(text.find("Sanitizer") != std::string::npos);
  CHECK_FALSE(text.find("runtime error:") != std::string::npos);
  if (running) {
    CHECK(status == 0);
  }
}

pid_t ServeProcess::pid() const {
  return m_process->running() ? m_process->pid() : -1;
}

std::string ServeProcess::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(m_port) + path;
}

std::string ServeProcess::output() const {
  return m_process->log();
}

bool ServeProcess::wait_for_output(const std::string& text, double seconds) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (output().find(text) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return output().find(text) != std::string::npos;
}

int ServeProcess::stop() {
  if (m_process->running()) {
    m_process->signal(SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (m_process->running() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    m_process->signal(SIGKILL); // nothing when it exited
  }
  return m_process->wait();
}

std::string RawResponse::header(const std::string& lower_name) const {
  const auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

RawResponse raw_exchange(int port, const std::string& request, bool head) {
  Poco::Net::StreamSocket socket;
  socket.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setReceiveTimeout(Poco::Timespan(30, 0));
  socket.sendBytes(request.data(), static_cast<int>(request.size()));
  std::string raw;
  char buffer[65536];
  try {
    while (true) {
      const int n = socket.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) {
        break;
      }
      raw.append(buffer, static_cast<std::size_t>(n));
    }
  } catch (const Poco::Exception&) {
    // a reset after the answer: keep what came
  }
  RawResponse response;
  const auto end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) {
    return response;
  }
  response.status = std::stoi(raw.substr(9, 3));
  std::istringstream lines(raw.substr(0, end));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      response.headers[Poco::toLower(line.substr(0, colon))] = Poco::trim(line.substr(colon + 1));
    }
  }
  if (!head) {
    response.body = raw.substr(end + 4);
    if (Poco::toLower(response.header("transfer-encoding")) == "chunked") {
      response.body = dechunk(response.body);
    }
  }
  return response;
}

RawResponse http_request(int port, const std::string& method, const std::string& target,
                         const std::vector<std::string>& headers, const std::string& body) {
  std::string request = method + " " + target +
                        " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\n";
  for (const auto& header : headers) {
    request += header + "\r\n";
  }
  if (!body.empty() || method == "POST") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  return raw_exchange(port, request, method == "HEAD");
}

ProcessUsage process_usage(pid_t pid) {
  ProcessUsage usage;
  const std::string proc = "/proc/" + std::to_string(pid);
  usage.threads = count_entries(proc + "/task");
  usage.descriptors = count_entries(proc + "/fd");
  std::ifstream status(proc + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      usage.rss = std::stoull(line.substr(6)) * 1024;
    } else if (line.rfind("VmHWM:", 0) == 0) {
      usage.peak = std::stoull(line.substr(6)) * 1024;
    }
  }
  return usage;
}

} // namespace tests::support
