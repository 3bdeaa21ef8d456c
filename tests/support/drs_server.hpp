// DrsServer imitates a GA4GH DRS 1.2 object service (GET /objects/{id}) with GHGA's Crypt4GH
// envelope endpoint (GET /objects/{id}/envelopes), for tests of a batch downloader.
//
// It serves the files of one folder, one file per object id, and answers:
//   GET <base>/objects/{id}                   200 DrsObject JSON, 202 + Retry-After (staging),
//                                             or an error status, as scripted per id
//   GET <base>/objects/{id}/access/{access_id} 200 AccessURL JSON (a fresh access URL)
//   GET <base>/objects/{id}/envelopes         200 base64 Crypt4GH envelope (GHGA); 403 without
//                                             the work-package token
// The bytes come from a real Debian nginx that the server starts (so Range requests meet a real
// server); every access URL it hands out carries its own token, and nginx asks this server
// (auth_request) whether each request for the bytes may proceed. That is where the byte
// faults are injected:
//   - access URLs that expire after N byte requests or after T milliseconds (403: the client
//     must ask GET /objects/{id} again for a fresh URL);
//   - access URLs whose `headers` (Authorization: Bearer …) must be sent (403 without);
//   - a given part (Range starting at a given byte) answered 403 or 500 the first K times.
// Faults on GET /objects/{id}: 404/403/503 (or any status) the first M times or always, K
// answers 202 (with or without Retry-After) before the 200, a wrong SHA-256 in `checksums`.
// Broken bodies (resets, short bodies) are not its business: use FaultServer for those.
#pragma once

#include "tests/support/nginx_server.hpp"
#include "tests/support/temp_dir.hpp"

#include <Poco/Net/HTTPServer.h>
#include <Poco/ThreadPool.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace Poco::Net {
class HTTPServerRequest;
class HTTPServerResponse;
} // namespace Poco::Net

namespace tests::support {

/// A part of an object answered with an error instead of its bytes.
struct DrsRangeFault {
  /// The part: byte requests whose `Range: bytes=<first_byte>-…` starts here (bytes from the
  /// start of the file). A request without Range matches first_byte 0.
  std::uint64_t first_byte = 0;
  /// 403 (the client should fetch a fresh access URL), 401, or 500 (a server fault to retry).
  /// nginx turns any other status into 500, so the setters reject them.
  int status = 500;
  /// How many matching requests get `status` (DrsObjectBehaviour::k_always: all); later ones
  /// go on to the expiry checks and are served.
  int times = 1;
};

/// How the server treats one object id. The default: ready at once, correct checksum, access
/// URLs that never expire, no envelope.
struct DrsObjectBehaviour {
  /// `times` value meaning "every time".
  static constexpr int k_always = -1;

  /// Answered (with a DRS Error JSON body) instead of the object the first `error_times` times
  /// GET /objects/{id} is asked, e.g. 404 (unavailable), 403 (forbidden), 503 (a fault);
  /// 0 = none. error_times may be k_always.
  int error_status = 0;
  int error_times = 0;
  /// After the errors: this many answers 202 (being staged), then 200 (404 if the id has no
  /// file). GET …/access/{access_id} does not move this sequence on: it answers error_status
  /// when error_times is k_always, else a fresh AccessURL.
  int staging_polls = 0;
  /// The Retry-After header of each 202, sent verbatim (DRS uses whole seconds: "0", "1");
  /// nullopt = no header (a protocol error the client must report).
  std::optional<std::string> retry_after = std::string("1");
  /// `checksums` carries a SHA-256 that is not the file's (the real one with its first hex
  /// digit changed), for checksum-mismatch tests.
  bool wrong_checksum = false;
  /// Every access URL handed out for this id answers 403 once it has served this many byte
  /// requests (0 = no limit) ...
  int url_max_requests = 0;
  /// ... or once this many milliseconds have passed since it was handed out (0 = no limit).
  int url_lifetime_ms = 0;
  /// Parts answered with an error (checked before expiry).
  std::vector<DrsRangeFault> range_faults;
  /// The DrsObject's access method has only `access_id` (no `access_url`): the client must ask
  /// GET /objects/{id}/access/{access_id}.
  bool access_id_only = false;
  /// The DrsObject's `name`; empty = the id.
  std::string name;
  /// GHGA: the Crypt4GH envelope (raw bytes) that GET /objects/{id}/envelopes returns
  /// base64-encoded; nullopt = 404 there.
  std::optional<std::string> envelope;
};

/// What DrsServer does beyond the defaults.
struct DrsServerOptions {
  /// Path of the DRS API under the server's origin; base_url() ends with it. No trailing '/'.
  std::string base_path = "/ga4gh/drs/v1";
  /// The bearer token of the work package: GET /objects/{id}/envelopes answers 403 unless the
  /// request carries `Authorization: Bearer <token>`.
  std::string token = "work-package-token";
  /// GET /objects/{id} (and …/access/…) also require that header (403 without it).
  bool objects_require_token = false;
  /// Access URLs come with `headers: ["Authorization: Bearer <secret>"]` (a secret per URL) and
  /// nginx answers 403 to byte requests without it.
  bool access_url_headers = true;
  /// The access methods' `type` (DRS: s3, gs, ftp, gsiftp, globus, htsget, https, file);
  /// the URL's scheme is http unless `nginx` has a TLS certificate.
  std::string access_type = "https";
  /// Passed to nginx (TLS certificate, extra config lines appended after the fixture's own);
  /// its root is an empty folder of the fixture's.
  NginxOptions nginx;
};

/// A URL where an object's bytes are, as DRS hands it out (AccessURL).
struct DrsAccessUrl {
  std::string url;                  ///< nginx's URL with the token in its query
  std::vector<std::string> headers; ///< "Name: value" lines to send with each request
};

/// A request the server received (directly, or from nginx for a byte request).
struct DrsRequest {
  enum class Kind {
    object,    ///< GET <base>/objects/{id}
    access,    ///< GET <base>/objects/{id}/access/{access_id}
    envelopes, ///< GET <base>/objects/{id}/envelopes
    bytes,     ///< a request to an access URL (as nginx reported it before serving it)
    other,     ///< anything else (answered 404)
  };
  Kind kind = Kind::other;
  std::string id;            ///< the object id (percent-decoded); "" for other
  std::string target;        ///< request target as received (bytes: the access URL's path+query)
  std::string authorization; ///< the Authorization header, "" when absent
  std::string range;         ///< bytes: the Range header, "" when absent
  std::string token;         ///< bytes: the access URL's token; object/access: the token of
                             ///< the URL handed out (200 only)
  /// What the server answered. For bytes: 200 = allowed (nginx then answers 200/206/416 from
  /// the file), else the status nginx answers (403, 401, 500).
  int status = 0;
  /// bytes: why it was refused ("expired: requests", "expired: time", "unknown token",
  /// "missing access header", "range fault"); "" when allowed.
  std::string refusal;
};

/// The DRS fixture: a Poco HTTP server on 127.0.0.1 (free port) plus its own nginx (free port)
/// serving the folder's bytes. Runs from construction to destruction; create it on a thread
/// that outlives it (nginx gets SIGTERM when the thread that started it ends, see NginxServer).
///
/// Access URLs: `http://127.0.0.1:<nginx port>/drs-bytes/<id>?X-Amz-Signature=<token>` (a
/// token per URL, in the query as in presigned object-store URLs) plus, by default, a header
/// `Authorization: Bearer <secret>` per URL. nginx's location for /drs-bytes/ has
/// `auth_request`: before serving, it passes the request's headers and target to this server,
/// which checks token, header, range faults and expiry, records the request, and answers 204
/// (nginx then serves the file itself: 200, 206 or 416) or 403/401/500 (nginx answers that).
/// Nothing else of the folder is reachable through nginx.
///
/// Object ids are file names in the folder, limited to DRS's unreserved characters
/// [A-Za-z0-9._~-] (not "." or ".."); other ids are answered 404. Files may be added, changed
/// or removed while it runs (SHA-256 is recomputed when size or mtime changes).
/// Thread-safe: behaviours may be set and counters read while clients run.
class DrsServer {
public:
  /// Serves `folder` (an existing folder; absolute, or relative to the working directory; must
  /// not contain `"`, `\`, `$` or a newline). Throws std::runtime_error when the folder is
  /// missing or nginx cannot start, Poco::Exception when the port cannot be bound.
  explicit DrsServer(const std::string& folder, DrsServerOptions options = {});
  /// Stops nginx, then the HTTP server (open connections are closed).
  ~DrsServer();
  DrsServer(const DrsServer&) = delete;
  DrsServer& operator=(const DrsServer&) = delete;

  /// "http://127.0.0.1:<port>" + base_path: what a client is given as the DRS base URL.
  std::string base_url() const;
  /// base_url() + "/objects/" + id (id used as given).
  std::string object_url(const std::string& id) const;
  /// The DRS server's TCP port.
  int port() const { return m_port; }
  /// The nginx that serves the bytes (port, prefix()/logs/access.log).
  const NginxServer& nginx() const { return *m_nginx; }
  /// The folder served, absolute.
  const std::string& folder() const { return m_folder; }

  /// Sets how `id` is treated, replacing any earlier behaviour (envelope included) and
  /// restarting its sequence (errors, then staging, range fault counts); counters are kept;
  /// access URLs already handed out keep the expiry rules they were handed out with. Throws
  /// std::invalid_argument for an id outside [A-Za-z0-9._~-] or a range fault status nginx cannot
  /// pass on.
  void set_behaviour(const std::string& id, DrsObjectBehaviour behaviour);
  /// Sets only the envelope of `id` (GHGA), keeping the rest of its behaviour and sequence.
  void set_envelope(const std::string& id, std::string envelope);
  /// Hands out a fresh access URL for `id` as a 200 would (same expiry rules), without a
  /// request: for tests and benchmarks that fetch bytes directly. Throws std::invalid_argument
  /// when the id has no file.
  DrsAccessUrl issue_access_url(const std::string& id);

  /// GET <base>/objects/{id} requests received for `id` (every answer counted).
  std::size_t object_requests(const std::string& id) const;
  /// GET <base>/objects/{id}/access/… requests received for `id`.
  std::size_t access_requests(const std::string& id) const;
  /// GET <base>/objects/{id}/envelopes requests received for `id` (403s included).
  std::size_t envelope_requests(const std::string& id) const;
  /// Byte requests for `id` in order of arrival, refused ones included.
  std::vector<DrsRequest> byte_requests(const std::string& id) const;
  /// Access URLs handed out for `id` (by 200s, access answers and issue_access_url).
  std::size_t access_urls_issued(const std::string& id) const;
  /// Every request, in order of arrival.
  std::vector<DrsRequest> requests() const;

private:
  struct Token {
    std::string id;
    std::string secret; // the access header's bearer value; "" when not required
    std::chrono::steady_clock::time_point issued;
    int max_requests = 0;
    int lifetime_ms = 0;
    int used = 0;
  };
  struct ObjectState {
    DrsObjectBehaviour behaviour;
    std::size_t sequence = 0; // object requests since the behaviour was set
    std::vector<int> range_fault_left;
  };
  struct Checksum {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string hex;
  };
  class Handler;
  class HandlerFactory;

  void handle(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);
  void answer_object(const std::string& id, bool access_only, DrsRequest& record,
                     Poco::Net::HTTPServerResponse& response);
  void answer_envelope(const std::string& id, DrsRequest& record,
                       Poco::Net::HTTPServerResponse& response);
  void authorize_bytes(Poco::Net::HTTPServerRequest& request, DrsRequest& record);
  /// A new token for `id` under m_mutex.
  DrsAccessUrl issue_locked(const std::string& id, std::string& token);
  /// Lower-case SHA-256 hex of the file of `id` (cached by size and mtime).
  std::string sha256_hex(const std::string& path, std::uint64_t size, std::int64_t mtime_ns);
  std::size_t count(DrsRequest::Kind kind, const std::string& id) const;

  std::string m_folder;
  DrsServerOptions m_options;
  int m_port = 0;

  mutable std::mutex m_mutex; // guards everything below
  std::map<std::string, ObjectState> m_objects;
  std::map<std::string, Token> m_tokens;
  std::map<std::string, std::size_t> m_issued;
  std::vector<DrsRequest> m_requests;
  std::mt19937_64 m_random;

  std::mutex m_hash_mutex; // guards m_checksums; held while hashing (never with m_mutex)
  std::map<std::string, Checksum> m_checksums;

  Poco::ThreadPool m_pool;
  std::unique_ptr<Poco::Net::HTTPServer> m_server;
  TempDir m_nginx_root; // empty: nginx serves bytes only under /drs-bytes/ with a token
  std::unique_ptr<NginxServer> m_nginx;
};

} // namespace tests::support
