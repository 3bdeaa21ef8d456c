// `download-dir-zip serve` run by a test: started on a free loopback port (port 0, the port
// read from its "Listening on" line), always stopped; plus a raw HTTP/1.1 client that sends
// exactly the bytes a test gives (no normalisation of "..", no encoding), and /proc readings
// of the service's threads, descriptors and memory.
#pragma once

#include "tests/support/background_process.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace tests::support {

/// The service as a child process. Its stdout and stderr go to files in a temp folder.
class ServeProcess {
public:
  /// Runs `exe serve -P 0 <args>` (add --root, or set PHOTOS_DIR in options.set_env; the job
  /// database and store are in its temp folder unless --db/--store or INPUT_DB/INPUT_STORE
  /// say otherwise) and
  /// waits up to 10 s for its "Listening on http://…:<port>/" line. Throws std::runtime_error
  /// with its output when it exits or does not listen in time.
  ServeProcess(const std::string& exe, const std::vector<std::string>& args,
               const ProcessOptions& options = {});
  /// Stops it (stop()); SIGKILL when it does not exit within 10 s. CHECKs that its output holds
  /// no sanitizer report and, when it was still running, that it exited 0.
  ~ServeProcess();
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return m_port; }
  /// Its process id while it runs, else -1.
  pid_t pid() const;
  /// "http://127.0.0.1:<port>" + path (used as given).
  std::string url(const std::string& path) const;
  /// Its stdout and stderr so far.
  std::string output() const;
  /// Waits up to `seconds` for `text` to appear in output(); whether it did.
  bool wait_for_output(const std::string& text, double seconds = 10) const;
  /// SIGTERM, then waits (SIGKILL after 10 s); returns the exit status (128 + signal when
  /// killed). Idempotent.
  int stop();

private:
  TempDir m_folder;
  std::unique_ptr<BackgroundProcess> m_process;
  int m_port = 0;
};

/// An HTTP answer as received.
struct RawResponse {
  int status = 0;                             ///< 0 when no status line came
  std::map<std::string, std::string> headers; ///< names in lower case
  std::string body;                           ///< de-chunked when chunked
  std::string header(const std::string& lower_name) const;
};

/// Sends `request` (the exact bytes) to 127.0.0.1:`port`, reads until the server closes the
/// connection (30 s at most) and parses the answer; `head` for answers without a body.
RawResponse raw_exchange(int port, const std::string& request, bool head = false);

/// `<method> <target> HTTP/1.1` with Host, Connection: close and `headers` ("Name: value"),
/// then `body` with its Content-Length (always for POST).
RawResponse http_request(int port, const std::string& method, const std::string& target,
                         const std::vector<std::string>& headers = {},
                         const std::string& body = "");

/// /proc readings of a process.
struct ProcessUsage {
  int threads = 0;        ///< entries of /proc/<pid>/task
  int descriptors = 0;    ///< entries of /proc/<pid>/fd
  std::uint64_t rss = 0;  ///< VmRSS, bytes
  std::uint64_t peak = 0; ///< VmHWM (peak RSS), bytes
};
ProcessUsage process_usage(pid_t pid);

} // namespace tests::support
