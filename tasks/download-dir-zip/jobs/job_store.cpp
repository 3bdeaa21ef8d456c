#include "tasks/download-dir-zip/jobs/job_store.hpp"

#include "shared/error/error.hpp"
#include "shared/hash/sha256.hpp"
#include "shared/http/url.hpp"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/UUIDGenerator.h>

#include <algorithm>
#include <ctime>
#include <sys/stat.h>

namespace tasks::download_dir_zip::jobs {
namespace {

using namespace Poco::Data::Keywords;
using Poco::Data::RecordSet;
using Poco::Data::Statement;
using shared::error::UsageError;

constexpr const char* k_columns =
    "id, folder, name, status, url, size, sha256, error, fingerprint, object, reused_from, "
    "worker, lease_until, attempts, created, updated, expires";

// Schema versions, applied in order; each step runs once (dirzip_schema holds the version).
const std::vector<std::vector<std::string>>& migrations() {
  static const std::vector<std::vector<std::string>> steps = {
      {
          "CREATE TABLE IF NOT EXISTS dirzip_jobs ("
          " id TEXT PRIMARY KEY,"
          " folder TEXT NOT NULL,"
          " name TEXT NOT NULL,"
          " status TEXT NOT NULL,"
          " url TEXT NOT NULL DEFAULT '',"
          " size BIGINT NOT NULL DEFAULT 0,"
          " sha256 TEXT NOT NULL DEFAULT '',"
          " error TEXT NOT NULL DEFAULT '',"
          " fingerprint TEXT NOT NULL DEFAULT '',"
          " object TEXT NOT NULL DEFAULT '',"
          " reused_from TEXT NOT NULL DEFAULT '',"
          " worker TEXT NOT NULL DEFAULT '',"
          " lease_token TEXT NOT NULL DEFAULT '',"
          " lease_until BIGINT NOT NULL DEFAULT 0,"
          " attempts BIGINT NOT NULL DEFAULT 0,"
          " created BIGINT NOT NULL,"
          " updated BIGINT NOT NULL,"
          " expires BIGINT NOT NULL DEFAULT 0)",
          "CREATE INDEX IF NOT EXISTS dirzip_jobs_claim ON dirzip_jobs (status, created)",
          "CREATE INDEX IF NOT EXISTS dirzip_jobs_reuse ON dirzip_jobs (folder, fingerprint)",
          "CREATE INDEX IF NOT EXISTS dirzip_jobs_expires ON dirzip_jobs (expires)",
          "CREATE INDEX IF NOT EXISTS dirzip_jobs_object ON dirzip_jobs (object)",
      },
  };
  return steps;
}

Status parse_status(const std::string& text) {
  if (text == "queued") {
    return Status::queued;
  }
  if (text == "running") {
    return Status::running;
  }
  if (text == "done") {
    return Status::done;
  }
  return Status::failed;
}

std::string new_uuid() {
  return Poco::UUIDGenerator::defaultGenerator().createRandom().toString();
}

std::vector<Job> jobs_from(RecordSet& rows) {
  std::vector<Job> jobs;
  for (std::size_t row = 0; row < rows.rowCount(); ++row) {
    const auto text = [&](std::size_t column) {
      return rows.value(column, row).convert<std::string>();
    };
    const auto number = [&](std::size_t column) {
      return rows.value(column, row).convert<Poco::Int64>();
    };
    Job job;
    job.id = text(0);
    job.folder = text(1);
    job.name = text(2);
    job.status = parse_status(text(3));
    job.url = text(4);
    job.size = static_cast<std::uint64_t>(number(5));
    job.sha256 = text(6);
    job.error = text(7);
    job.fingerprint = text(8);
    job.object = text(9);
    job.reused_from = text(10);
    job.worker = text(11);
    job.lease_until = number(12);
    job.attempts = number(13);
    job.created = number(14);
    job.updated = number(15);
    job.expires = number(16);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// Runs a SELECT of k_columns; the first job it gives, if any.
std::optional<Job> first_job(Statement& select) {
  select.execute();
  RecordSet rows(select);
  auto jobs = jobs_from(rows);
  if (jobs.empty()) {
    return std::nullopt;
  }
  return jobs.front();
}

std::once_flag g_connectors;

void register_connectors() {
  std::call_once(g_connectors, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });
}

// A database failure as the task reports it: exit status 3 like other service failures.
[[noreturn]] void rethrow_database(const Poco::Exception& e, const std::string& what) {
  throw shared::error::Error(shared::error::ExitCode::network,
                             "job database: " + what + ": " + e.displayText());
}

// One libpq keyword value, quoted when needed (libpq "Keyword/Value Connection Strings").
std::string keyword_value(const std::string& value) {
  if (!value.empty() && value.find_first_of(" '\\") == std::string::npos) {
    return value;
  }
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\'' || c == '\\') {
      quoted += '\\';
    }
    quoted += c;
  }
  return quoted + "'";
}

} // namespace

std::string postgres_keywords(const std::string& uri) {
  namespace http = shared::http;
  std::string rest = uri.substr(uri.find("://") + 3);
  std::string query;
  if (const auto mark = rest.find('?'); mark != std::string::npos) {
    query = rest.substr(mark + 1);
    rest.resize(mark);
  }
  std::string database;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    database = http::decode_percent(rest.substr(slash + 1));
    rest.resize(slash);
  }
  std::string user;
  std::string password;
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    const std::string credentials = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = credentials.find(':');
    user = http::decode_percent(credentials.substr(0, colon));
    if (colon != std::string::npos) {
      password = http::decode_percent(credentials.substr(colon + 1));
    }
  }
  std::string host = rest;
  std::string port;
  if (!host.empty() && host.front() == '[') { // [IPv6]:port
    const auto close = host.find(']');
    if (close == std::string::npos) {
      throw UsageError("--db: \"" + http::redact(uri) + "\": unclosed [ in the host");
    }
    port = close + 1 < host.size() && host[close + 1] == ':' ? host.substr(close + 2) : "";
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host.resize(colon);
  }
  if (!port.empty() && port.find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("--db: \"" + http::redact(uri) + "\": the port must be a number");
  }
  std::string text;
  const auto add = [&](const std::string& keyword, const std::string& value) {
    if (!value.empty()) {
      text += (text.empty() ? "" : " ") + keyword + "=" + keyword_value(value);
    }
  };
  add("host", http::decode_percent(host));
  add("port", port);
  add("dbname", database);
  add("user", user);
  add("password", password);
  std::size_t start = 0;
  while (start < query.size()) {
    const std::size_t amp = std::min(query.find('&', start), query.size());
    const std::string parameter = query.substr(start, amp - start);
    const auto equals = parameter.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw UsageError("--db: \"" + http::redact(uri) + "\": bad parameter \"" + parameter + "\"");
    }
    add(http::decode_percent(parameter.substr(0, equals)),
        http::decode_percent(parameter.substr(equals + 1)));
    start = amp + 1;
  }
  if (text.empty()) {
    text = "dbname=postgres";
  }
  return text;
}

const char* to_string(Status status) {
  switch (status) {
  case Status::queued:
    return "queued";
  case Status::running:
    return "running";
  case Status::done:
    return "done";
  case Status::failed:
    return "failed";
  }
  return "failed";
}

std::string fingerprint_lines(std::vector<std::string> lines) {
  std::sort(lines.begin(), lines.end());
  shared::hash::Sha256 hash;
  for (const auto& line : lines) {
    hash.update(line.data(), line.size());
    hash.update("\n", 1);
  }
  return shared::hash::to_hex(hash.finish(), false);
}

std::unique_ptr<JobStore> JobStore::open(const std::string& spec, JobStoreOptions options) {
  register_connectors();
  std::string backend = "sqlite";
  std::string connection;
  if (spec.compare(0, 13, "postgresql://") == 0 || spec.compare(0, 11, "postgres://") == 0) {
    backend = "postgresql";
    connection = postgres_keywords(spec);
  } else if (spec.compare(0, 7, "sqlite:") == 0) {
    connection = spec.substr(7);
    if (connection.compare(0, 2, "//") == 0) { // sqlite:///abs/path
      connection = connection.substr(2);
    }
  } else if (spec.find("://") != std::string::npos) {
    throw UsageError("--db: \"" + shared::http::redact(spec) +
                     "\": unknown kind; give a SQLite file or postgresql://…");
  } else {
    connection = spec.empty() ? "download-dir-zip-jobs.sqlite" : spec;
  }
  if (connection.empty()) {
    throw UsageError("--db: \"" + spec + "\" names no SQLite file");
  }
  if (backend == "sqlite") {
    const auto slash = connection.rfind('/');
    const std::string folder = slash == std::string::npos ? "."
                               : slash == 0               ? "/"
                                                          : connection.substr(0, slash);
    struct stat info {};
    if (::stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
      throw UsageError("--db: the folder of the SQLite file \"" + connection + "\" does not exist");
    }
  }
  std::unique_ptr<Poco::Data::Session> session;
  try {
    // Poco retries a failed open until this many seconds have passed.
    constexpr std::size_t k_login_timeout = 10;
    session = std::make_unique<Poco::Data::Session>(backend == "sqlite" ? "SQLite" : "PostgreSQL",
                                                    connection, k_login_timeout);
    if (backend == "sqlite") {
      std::string mode;
      Poco::Int64 timeout = 0;
      *session << "PRAGMA busy_timeout = 30000", into(timeout), now;
      *session << "PRAGMA journal_mode = WAL", into(mode), now;
    }
  } catch (const Poco::Exception& e) {
    throw UsageError("--db: cannot open \"" + shared::http::redact(spec) +
                     "\": " + e.displayText());
  }
  std::unique_ptr<JobStore> store(new JobStore(backend, std::move(session), std::move(options)));
  store->migrate();
  return store;
}

JobStore::JobStore(std::string backend, std::unique_ptr<Poco::Data::Session> session,
                   JobStoreOptions options)
    : m_backend(std::move(backend)), m_session(std::move(session)), m_options(std::move(options)) {}

JobStore::~JobStore() = default;

std::int64_t JobStore::current_time() const {
  return m_options.clock ? m_options.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

std::string JobStore::sql(const std::string& text) const {
  if (m_backend != "postgresql") {
    return text;
  }
  std::string out;
  int index = 0;
  for (const char c : text) {
    if (c == '?') {
      out += "$" + std::to_string(++index);
    } else {
      out += c;
    }
  }
  return out;
}

void JobStore::begin_write() {
  if (m_backend == "postgresql") {
    m_session->begin();
  } else {
    *m_session << "BEGIN IMMEDIATE", now;
  }
}

void JobStore::commit() {
  if (m_backend == "postgresql") {
    m_session->commit();
  } else {
    *m_session << "COMMIT", now;
  }
}

void JobStore::rollback() noexcept {
  try {
    if (m_backend == "postgresql") {
      m_session->rollback();
    } else {
      *m_session << "ROLLBACK", now;
    }
  } catch (...) {
  }
}

void JobStore::reconnect_if_needed() {
  try {
    if (!m_session->isGood()) {
      m_session->reconnect();
    }
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "reconnecting");
  }
}

void JobStore::migrate() {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  try {
    begin_write();
    try {
      if (m_backend == "postgresql") { // one migrating process at a time
        Poco::Int64 locked = 0;
        *m_session << "SELECT CAST(1 AS BIGINT) FROM (SELECT pg_advisory_xact_lock(72070007)) AS l",
            into(locked), now;
      }
      *m_session << "CREATE TABLE IF NOT EXISTS dirzip_schema (version BIGINT NOT NULL)", now;
      Poco::Int64 version = 0;
      *m_session << "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM dirzip_schema",
          into(version), now;
      const auto& steps = migrations();
      for (std::size_t step = static_cast<std::size_t>(version); step < steps.size(); ++step) {
        for (const auto& statement : steps[step]) {
          *m_session << statement, now;
        }
      }
      if (static_cast<std::size_t>(version) < steps.size()) {
        const auto latest = static_cast<Poco::Int64>(steps.size());
        *m_session << "DELETE FROM dirzip_schema", now;
        *m_session << sql("INSERT INTO dirzip_schema (version) VALUES (?)"), bind(latest), now;
      }
      commit();
    } catch (...) {
      rollback();
      throw;
    }
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "creating the schema");
  }
}

std::optional<Job> JobStore::select_one(const std::string& id) {
  Statement select(*m_session);
  select << sql(std::string("SELECT ") + k_columns + " FROM dirzip_jobs WHERE id = ?"), bind(id);
  return first_job(select);
}

Job JobStore::submit(const std::string& folder, const std::string& name,
                     const std::string& fingerprint) {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  Job job;
  job.id = new_uuid();
  job.folder = folder;
  job.name = name;
  job.fingerprint = fingerprint;
  job.created = job.updated = current_time();
  try {
    *m_session << sql("INSERT INTO dirzip_jobs (id, folder, name, status, fingerprint, created, "
                      "updated) VALUES (?, ?, ?, 'queued', ?, ?, ?)"),
        bind(job.id), bind(job.folder), bind(job.name), bind(job.fingerprint),
        bind(static_cast<Poco::Int64>(job.created)), bind(static_cast<Poco::Int64>(job.updated)),
        now;
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "queueing a job");
  }
  return job;
}

std::optional<Job> JobStore::find_reusable(const std::string& folder,
                                           const std::string& fingerprint) {
  if (fingerprint.empty()) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  try {
    Statement select(*m_session);
    const auto until = static_cast<Poco::Int64>(current_time() + m_options.reuse_margin);
    select << sql(std::string("SELECT ") + k_columns +
                  " FROM dirzip_jobs WHERE folder = ? AND fingerprint = ? AND status = 'done'"
                  " AND expires > ? ORDER BY expires DESC LIMIT 1"),
        bind(folder), bind(fingerprint), bind(until);
    return first_job(select);
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "looking for a reusable archive");
  }
}

Job JobStore::submit_reused(const Job& original, const std::string& name, const std::string& url) {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  Job job = original;
  job.id = new_uuid();
  job.name = name;
  job.url = url;
  job.status = Status::done;
  job.reused_from = original.reused_from.empty() ? original.id : original.reused_from;
  job.worker.clear();
  job.lease_until = 0;
  job.attempts = 0;
  job.created = job.updated = current_time();
  try {
    *m_session << sql("INSERT INTO dirzip_jobs (id, folder, name, status, url, size, sha256, "
                      "fingerprint, object, reused_from, created, updated, expires) VALUES "
                      "(?, ?, ?, 'done', ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
        bind(job.id), bind(job.folder), bind(job.name), bind(job.url),
        bind(static_cast<Poco::Int64>(job.size)), bind(job.sha256), bind(job.fingerprint),
        bind(job.object), bind(job.reused_from), bind(static_cast<Poco::Int64>(job.created)),
        bind(static_cast<Poco::Int64>(job.updated)), bind(static_cast<Poco::Int64>(job.expires)),
        now;
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "recording a reused archive");
  }
  return job;
}

std::optional<Job> JobStore::get(const std::string& id) {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  try {
    return select_one(id);
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "reading job " + id);
  }
}

std::optional<Claim> JobStore::claim(const std::string& worker, std::int64_t lease_seconds) {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  try {
    begin_write();
    try {
      const auto at = static_cast<Poco::Int64>(current_time());
      for (int round = 0; round < 100; ++round) {
        std::vector<std::string> ids;
        std::vector<Poco::Int64> attempts;
        std::string query =
            "SELECT id, attempts FROM dirzip_jobs WHERE status = 'queued' OR (status = 'running' "
            "AND lease_until < ?) ORDER BY created, id LIMIT 1";
        if (m_backend == "postgresql") {
          query += " FOR UPDATE SKIP LOCKED";
        }
        *m_session << sql(query), bind(at), into(ids), into(attempts), now;
        if (ids.empty()) {
          commit();
          return std::nullopt;
        }
        if (attempts.front() >= m_options.max_attempts) {
          const std::string error = "its worker stopped before finishing it " +
                                    std::to_string(attempts.front()) + " times";
          *m_session << sql("UPDATE dirzip_jobs SET status = 'failed', error = ?, lease_token = "
                            "'', updated = ?, expires = ? WHERE id = ?"),
              bind(error), bind(at), bind(static_cast<Poco::Int64>(at + m_options.ttl)),
              bind(ids.front()), now;
          continue;
        }
        Claim claim;
        claim.token = new_uuid();
        *m_session << sql("UPDATE dirzip_jobs SET status = 'running', worker = ?, lease_token = "
                          "?, lease_until = ?, attempts = attempts + 1, updated = ? WHERE id = ?"),
            bind(worker), bind(claim.token), bind(static_cast<Poco::Int64>(at + lease_seconds)),
            bind(at), bind(ids.front()), now;
        auto job = select_one(ids.front());
        commit();
        if (!job) {
          return std::nullopt;
        }
        claim.job = std::move(*job);
        return claim;
      }
      commit();
      return std::nullopt;
    } catch (...) {
      rollback();
      throw;
    }
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "claiming a job");
  }
}

template <typename Body>
auto JobStore::locked(const std::string& what, const Body& body) {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  try {
    return body();
  } catch (const Poco::Exception& e) {
    rethrow_database(e, what);
  }
}

bool JobStore::renew(const Claim& claim, std::int64_t lease_seconds) {
  return locked("renewing the lease of job " + claim.job.id, [&] {
    const auto at = static_cast<Poco::Int64>(current_time());
    Statement update(*m_session);
    update << sql("UPDATE dirzip_jobs SET lease_until = ?, updated = ? WHERE id = ? AND "
                  "lease_token = ? AND status = 'running'"),
        bind(static_cast<Poco::Int64>(at + lease_seconds)), bind(at), bind(claim.job.id),
        bind(claim.token);
    return update.execute() == 1;
  });
}

bool JobStore::finish(const Claim& claim, const Archive& archive) {
  return locked("finishing job " + claim.job.id, [&] {
    const auto at = static_cast<Poco::Int64>(current_time());
    Statement update(*m_session);
    update << sql("UPDATE dirzip_jobs SET status = 'done', url = ?, size = ?, sha256 = ?, "
                  "fingerprint = ?, object = ?, error = '', lease_token = '', updated = ?, "
                  "expires = ? WHERE id = ? AND lease_token = ? AND status = 'running'"),
        bind(archive.url), bind(static_cast<Poco::Int64>(archive.size)), bind(archive.sha256),
        bind(archive.fingerprint), bind(archive.object), bind(at),
        bind(static_cast<Poco::Int64>(archive.expires)), bind(claim.job.id), bind(claim.token);
    return update.execute() == 1;
  });
}

bool JobStore::fail(const Claim& claim, const std::string& error) {
  return locked("failing job " + claim.job.id, [&] {
    const auto at = static_cast<Poco::Int64>(current_time());
    Statement update(*m_session);
    update << sql("UPDATE dirzip_jobs SET status = 'failed', error = ?, lease_token = '', "
                  "updated = ?, expires = ? WHERE id = ? AND lease_token = ? AND status = "
                  "'running'"),
        bind(error), bind(at), bind(static_cast<Poco::Int64>(at + m_options.ttl)),
        bind(claim.job.id), bind(claim.token);
    return update.execute() == 1;
  });
}

bool JobStore::release(const Claim& claim) {
  return locked("releasing job " + claim.job.id, [&] {
    const auto at = static_cast<Poco::Int64>(current_time());
    Statement update(*m_session);
    update << sql("UPDATE dirzip_jobs SET status = 'queued', worker = '', lease_token = '', "
                  "lease_until = 0, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 "
                  "END, updated = ? WHERE id = ? AND lease_token = ? AND status = 'running'"),
        bind(at), bind(claim.job.id), bind(claim.token);
    return update.execute() == 1;
  });
}

std::size_t JobStore::cleanup(shared::store::ObjectStore& store, std::size_t limit) {
  std::vector<std::string> ids;
  std::vector<std::string> objects;
  Poco::Int64 at = 0;
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    reconnect_if_needed();
    try {
      at = static_cast<Poco::Int64>(current_time());
      const auto max = static_cast<Poco::Int64>(limit);
      *m_session << sql("SELECT id, object FROM dirzip_jobs WHERE status IN ('done', 'failed') "
                        "AND expires <= ? ORDER BY expires LIMIT ?"),
          bind(at), bind(max), into(ids), into(objects), now;
    } catch (const Poco::Exception& e) {
      rethrow_database(e, "listing expired jobs");
    }
  }
  std::size_t deleted = 0;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    Poco::Int64 users = 0;
    {
      std::lock_guard<std::mutex> lock(m_mutex);
      reconnect_if_needed();
      try {
        Statement remove(*m_session);
        remove << sql("DELETE FROM dirzip_jobs WHERE id = ? AND expires <= ? AND status IN "
                      "('done', 'failed')"),
            bind(ids[i]), bind(at);
        deleted += remove.execute();
        if (!objects[i].empty()) {
          *m_session << sql("SELECT CAST(COUNT(*) AS BIGINT) FROM dirzip_jobs WHERE object = ?"),
              bind(objects[i]), into(users), now;
        }
      } catch (const Poco::Exception& e) {
        rethrow_database(e, "deleting expired job " + ids[i]);
      }
    }
    if (!objects[i].empty() && users == 0) {
      store.remove(objects[i]);
    }
  }
  return deleted;
}

QueueCounts JobStore::counts() {
  std::lock_guard<std::mutex> lock(m_mutex);
  reconnect_if_needed();
  QueueCounts counts;
  try {
    const auto at = static_cast<Poco::Int64>(current_time());
    Poco::Int64 queued = 0;
    Poco::Int64 running = 0;
    Poco::Int64 expired = 0;
    *m_session << "SELECT CAST(COUNT(*) AS BIGINT) FROM dirzip_jobs WHERE status = 'queued'",
        into(queued), now;
    *m_session << sql("SELECT CAST(COUNT(*) AS BIGINT) FROM dirzip_jobs WHERE status = "
                      "'running' AND lease_until >= ?"),
        bind(at), into(running), now;
    *m_session << sql("SELECT CAST(COUNT(*) AS BIGINT) FROM dirzip_jobs WHERE status = "
                      "'running' AND lease_until < ?"),
        bind(at), into(expired), now;
    counts.queued = queued;
    counts.running = running;
    counts.claimable_running = expired;
  } catch (const Poco::Exception& e) {
    rethrow_database(e, "counting jobs");
  }
  return counts;
}

} // namespace tasks::download_dir_zip::jobs
