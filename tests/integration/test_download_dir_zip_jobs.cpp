// `download-dir-zip worker`, the executable, with the asynchronous archive jobs:
// jobs queued through the library API the service routes call (submit_folder), processed by
// real worker processes against a real database (a SQLite file, and Debian's PostgreSQL started
// on a free port) and a real object store (a local folder, and Azurite from npm). Lifecycle,
// reuse, TTL cleanup, a worker killed with SIGKILL mid-job, SIGTERM, two workers sharing a
// queue, and Azure block uploads read back through the read SAS URL. Then the service's
// asynchronous routes over HTTP ([serve][async]): POST, poll, download with Range, reuse, a
// separate worker, hostile requests. Every archive is read by unzip -t, Python's zipfile and
// Poco::Zip.
#include "shared/http/client.hpp"
#include "shared/http/errors.hpp"
#include "shared/log/logger.hpp"
#include "shared/server/signed_link.hpp"
#include "shared/store/azure_blob.hpp"
#include "shared/store/local_store.hpp"
#include "tasks/download-dir-zip/jobs/zipper.hpp"
#include "tests/support/azurite_server.hpp"
#include "tests/support/background_process.hpp"
#include "tests/support/postgres_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/random_bytes.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/skip.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zip_readers.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <sys/stat.h>
#include <thread>

using namespace tests::support;
using namespace tasks::download_dir_zip::jobs;

namespace {

const std::string k_zip = DOWNLOAD_DIR_ZIP_EXE;

// A database for one test: a SQLite file in the test's folder, or a private PostgreSQL.
struct Database {
  std::unique_ptr<PostgresServer> server;
  std::string spec;

  Database(const std::string& backend, const TempDir& folder) {
    if (backend == "postgresql") {
      server = std::make_unique<PostgresServer>();
      server->create_database("jobs");
      spec = server->url("jobs");
    } else {
      spec = folder / "jobs.sqlite";
    }
  }
};

// Everything a worker test needs: the root with folders, the store, the queue, a logger.
struct Setup {
  TempDir folder;
  Database db;
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  std::unique_ptr<JobStore> jobs;
  shared::store::LocalStore store{folder / "store"};
  SubmitOptions submit;

  explicit Setup(const std::string& backend) : db(backend, folder) {
    jobs = JobStore::open(db.spec);
    submit.root = folder / "root";
    std::filesystem::create_directories(submit.root);
  }

  std::vector<std::string> worker_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {k_zip,   "worker",  "--root",         submit.root, "--db",
                                     db.spec, "--store", folder / "store", "--poll",    "0.05"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
};

std::uint32_t mode_of(const std::string& path) {
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  return info.st_mode;
}

// A folder <root>/<folder> with a few files; what the readers must find in its archive.
Listing make_folder(const std::string& root, const std::string& folder, std::size_t big = 0,
                    unsigned seed = 1) {
  const std::string base = root + "/" + folder;
  const std::string small = "hello from " + folder + "\n";
  write_file(base + "/a.txt", small);
  write_file(base + "/sub/deeper/c.txt", "c");
  Listing expected = {{"a.txt", {sha_hex(small), small.size(), 0100644}},
                      {"sub/", {sha_hex(""), 0, mode_of(base + "/sub")}},
                      {"sub/deeper/", {sha_hex(""), 0, mode_of(base + "/sub/deeper")}},
                      {"sub/deeper/c.txt", {sha_hex("c"), 1, 0100644}}};
  if (big > 0) {
    const std::string bytes = random_bytes(big, seed);
    write_file(base + "/sub/big.bin", bytes);
    expected["sub/big.bin"] = {sha_hex(bytes), bytes.size(), 0100644};
  }
  return expected;
}

// Polls `condition` every 20 ms for up to `seconds`; whether it became true.
bool eventually(const std::function<bool()>& condition, double seconds = 30) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int>(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

std::uint64_t file_size(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_size) : 0;
}

} // namespace

TEST_CASE("worker: a job goes queued, done; its archive is valid; reuse; a change rebuilds",
          "[worker]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  INFO(backend);
  Setup s(backend);
  const Listing expected = make_folder(s.submit.root, "42/dist");
  const Submitted submitted =
      submit_folder(*s.jobs, s.store, "42/dist", "dist_dir.zip", s.submit, s.logger);
  CHECK(s.jobs->get(submitted.job.id)->status == Status::queued);

  const auto run = run_process(s.worker_args({"--once"}));
  INFO(run.err);
  REQUIRE(run.exit_code == 0);
  const Job job = s.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::done);
  CHECK(job.attempts == 1);
  CHECK(job.url == "/downloads/" + job.id + ".zip");
  CHECK(job.error.empty());
  const std::string archive = s.folder / ("store/" + job.id + ".zip");
  const std::string bytes = read_file(archive);
  CHECK(job.size == bytes.size());
  CHECK(job.sha256 == sha_hex(bytes));
  check_archive(archive, expected);
  CHECK(run.out.find("Job " + job.id + " done") != std::string::npos);

  // Unchanged: the next request is done at once with the same archive.
  const Submitted again = submit_folder(*s.jobs, s.store, "42/dist", "d.zip", s.submit, s.logger);
  CHECK(again.reused);
  CHECK(s.jobs->get(again.job.id)->status == Status::done);
  CHECK(s.jobs->get(again.job.id)->sha256 == job.sha256);
  CHECK(s.jobs->get(again.job.id)->url == job.url);

  // Changed: a new job, a new archive with the new content.
  write_file(s.submit.root + "/42/dist/added.txt", "new");
  const Submitted changed = submit_folder(*s.jobs, s.store, "42/dist", "d.zip", s.submit, s.logger);
  CHECK_FALSE(changed.reused);
  REQUIRE(run_process(s.worker_args({"--once"})).exit_code == 0);
  const Job rebuilt = s.jobs->get(changed.job.id).value();
  REQUIRE(rebuilt.status == Status::done);
  CHECK(rebuilt.sha256 != job.sha256);
  Listing with_added = expected;
  with_added["added.txt"] = {sha_hex("new"), 3, 0100644};
  check_archive(s.folder / ("store/" + rebuilt.id + ".zip"), with_added);
}

TEST_CASE("worker: a failing job is recorded with its error", "[worker]") {
  Setup s("sqlite");
  make_folder(s.submit.root, "7/gone");
  const Submitted submitted =
      submit_folder(*s.jobs, s.store, "7/gone", "g.zip", s.submit, s.logger);
  std::filesystem::remove_all(s.submit.root + "/7/gone");
  const auto run = run_process(s.worker_args({"--once"}));
  REQUIRE(run.exit_code == 0);
  const Job job = s.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::failed);
  CHECK(job.error == "folder \"7/gone\": no such folder");
  CHECK(job.url.empty());
}

TEST_CASE("worker: expired archives are deleted from the store and the database", "[worker]") {
  Setup s("sqlite");
  make_folder(s.submit.root, "1/a");
  make_folder(s.submit.root, "1/b");
  const Submitted old_job = submit_folder(*s.jobs, s.store, "1/a", "a.zip", s.submit, s.logger);
  const Submitted young = submit_folder(*s.jobs, s.store, "1/b", "b.zip", s.submit, s.logger);
  // Both finished by hand: one expired a second ago, one with an hour to live.
  for (const auto* submitted : {&old_job, &young}) {
    auto claim = s.jobs->claim("test", 60).value();
    Archive archive;
    archive.object = claim.job.id + ".zip";
    archive.url = "/downloads/" + archive.object;
    archive.expires =
        claim.job.id == old_job.job.id ? s.jobs->current_time() - 1 : s.jobs->current_time() + 3600;
    auto object = s.store.create(archive.object);
    object->write("archive", 7);
    object->commit();
    REQUIRE(s.jobs->finish(claim, archive));
    (void)submitted;
  }
  const auto run = run_process(s.worker_args({"--once"}));
  INFO(run.out);
  REQUIRE(run.exit_code == 0);
  CHECK_FALSE(s.jobs->get(old_job.job.id));
  CHECK_FALSE(s.store.exists(old_job.job.id + ".zip"));
  CHECK(s.jobs->get(young.job.id));
  CHECK(s.store.exists(young.job.id + ".zip"));
  CHECK(run.out.find("Deleted 1 expired jobs") != std::string::npos);
}

TEST_CASE("worker: killed with SIGKILL mid-job, another worker finishes it after the lease",
          "[worker]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  INFO(backend);
  Setup s(backend);
  const Listing expected = make_folder(s.submit.root, "9/big", 4u << 20, 9);
  const Submitted submitted = submit_folder(*s.jobs, s.store, "9/big", "b.zip", s.submit, s.logger);
  const std::string part = s.folder / ("store/" + submitted.job.id + ".zip.part");
  {
    BackgroundProcess doomed(
        s.worker_args({"--worker-id", "doomed", "--lease", "2", "--max-rate", "1MB"}),
        s.folder / "doomed.log");
    REQUIRE(eventually([&] {
      const auto job = s.jobs->get(submitted.job.id);
      return job && job->status == Status::running && file_size(part) > 0;
    }));
    doomed.signal(SIGKILL);
    CHECK(doomed.wait() == 128 + SIGKILL);
  }
  const Job orphan = s.jobs->get(submitted.job.id).value();
  CHECK(orphan.status == Status::running); // nobody told the queue
  CHECK(orphan.worker == "doomed");

  const auto rescue = run_process(s.worker_args({"--worker-id", "rescuer", "--once"}));
  INFO(rescue.err);
  REQUIRE(rescue.exit_code == 0);
  const Job job = s.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::done);
  CHECK(job.worker == "rescuer");
  CHECK(job.attempts == 2);
  const std::string archive = s.folder / ("store/" + job.id + ".zip");
  CHECK(job.sha256 == sha_hex(read_file(archive)));
  check_archive(archive, expected);
  CHECK_FALSE(exists(part));
}

TEST_CASE("worker: a job longer than its lease stays with its worker while it renews", "[worker]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  INFO(backend);
  Setup s(backend);
  make_folder(s.submit.root, "8/long", 5u << 20, 8);
  const Submitted submitted =
      submit_folder(*s.jobs, s.store, "8/long", "l.zip", s.submit, s.logger);
  // About 5 s of work on a 2 s lease, with a second worker waiting for the lease to run out.
  // (Leases are whole seconds: with 1 s, one renewal late by about 0.7 s on a loaded machine
  // would hand the job over.)
  const std::vector<std::string> slow = {"--once", "--lease", "2", "--max-rate", "1MB"};
  std::vector<std::string> a_args = s.worker_args(slow);
  a_args.insert(a_args.end(), {"--worker-id", "a"});
  BackgroundProcess a(a_args, s.folder / "a.log");
  REQUIRE(eventually([&] { return s.jobs->get(submitted.job.id)->status == Status::running; }));
  std::vector<std::string> b_args = s.worker_args(slow);
  b_args.insert(b_args.end(), {"--worker-id", "b"});
  BackgroundProcess b(b_args, s.folder / "b.log");
  CHECK(a.wait() == 0);
  CHECK(b.wait() == 0);
  const Job job = s.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::done);
  CHECK(job.worker == "a");
  CHECK(job.attempts == 1);
  CHECK(occurrences(a.log() + b.log(), ": zipping") == 1);
  test_with_unzip(s.folder / ("store/" + job.id + ".zip"));
}

TEST_CASE("worker: SIGTERM puts the current job back and exits 0", "[worker]") {
  Setup s("sqlite");
  make_folder(s.submit.root, "3/slow", 4u << 20, 3);
  const Submitted submitted =
      submit_folder(*s.jobs, s.store, "3/slow", "s.zip", s.submit, s.logger);
  const std::string part = s.folder / ("store/" + submitted.job.id + ".zip.part");
  BackgroundProcess worker(s.worker_args({"--max-rate", "1MB"}), s.folder / "worker.log");
  REQUIRE(eventually([&] { return file_size(part) > 0; }));
  worker.signal(SIGTERM);
  CHECK(worker.wait() == 0);
  INFO(worker.log());
  const Job job = s.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::queued);
  CHECK(job.attempts == 0);
  CHECK_FALSE(exists(part));
  CHECK_FALSE(s.store.exists(job.id + ".zip"));
  CHECK(worker.log().find("back in the queue") != std::string::npos);
}

TEST_CASE("worker: two workers on one queue process each job exactly once", "[worker]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  INFO(backend);
  Setup s(backend);
  constexpr int k_jobs = 40;
  std::vector<std::string> ids;
  for (int i = 0; i < k_jobs; ++i) {
    const std::string folder = "100/f" + std::to_string(i);
    make_folder(s.submit.root, folder);
    ids.push_back(submit_folder(*s.jobs, s.store, folder, "f.zip", s.submit, s.logger).job.id);
  }
  std::string logs;
  {
    BackgroundProcess a(s.worker_args({"--once", "--worker-id", "a"}), s.folder / "a.log");
    BackgroundProcess b(s.worker_args({"--once", "--worker-id", "b"}), s.folder / "b.log");
    CHECK(a.wait() == 0);
    CHECK(b.wait() == 0);
    logs = a.log() + b.log();
  }
  std::map<std::string, int> by_worker;
  for (const auto& id : ids) {
    INFO(id);
    const Job job = s.jobs->get(id).value();
    CHECK(job.status == Status::done);
    CHECK(job.attempts == 1);
    CHECK(occurrences(logs, "Job " + id + ": zipping") == 1);
    CHECK(occurrences(logs, "Job " + id + " done") == 1);
    ++by_worker[job.worker];
  }
  CHECK(by_worker["a"] + by_worker["b"] == k_jobs);
  test_with_unzip(s.folder / ("store/" + ids.back() + ".zip"));
}

TEST_CASE("worker: Azure Blob Storage (Azurite): blocks of 8 MiB, read through the SAS URL",
          "[worker][azure]") {
  if (const auto why = AzuriteServer::install(AZURITE_CACHE_DIR)) {
    SKIP_TEST("Azurite is not available: " << *why);
  }
  AzuriteServer azurite(AZURITE_CACHE_DIR);
  Setup s("sqlite");
  const Listing expected = make_folder(s.submit.root, "5/dist", 20u << 20, 5);
  const std::string spec = "azblob://devstoreaccount1/archives/jobs?endpoint=" + azurite.endpoint();
  const Submitted submitted =
      submit_folder(*s.jobs, s.store, "5/dist", "d.zip", s.submit, s.logger);

  ProcessOptions env;
  env.set_env["AZURE_STORAGE_KEY"] = AzuriteServer::k_key;
  std::vector<std::string> args = s.worker_args({"--once"});
  args[6] = "--store";
  args[7] = spec;
  const auto run = run_process(args, env);
  INFO(run.out + run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find(AzuriteServer::k_key) == std::string::npos);
  const Job job = s.jobs->get(submitted.job.id).value();
  REQUIRE(job.status == Status::done);
  CHECK(job.size > (16u << 20));
  const std::string prefix = azurite.endpoint() + "/archives/jobs/" + job.id + ".zip?";
  CHECK(job.url.rfind(prefix, 0) == 0);
  CHECK(job.url.find("sp=r") != std::string::npos);
  CHECK(job.url.find("sig=") != std::string::npos);

  // The read SAS URL, with no other credential, gives the archive.
  shared::http::ClientOptions http;
  shared::http::Client client(http, s.logger);
  shared::http::StringSink body(64u << 20);
  client.get(job.url, body);
  CHECK(body.body().size() == job.size);
  CHECK(sha_hex(body.body()) == job.sha256);
  write_file(s.folder / "downloaded.zip", body.body());
  check_archive(s.folder / "downloaded.zip", expected);

  // It was uploaded in blocks of 8 MiB: the committed block list has three.
  shared::store::azure::AzureBlobStore store(shared::store::azure::parse_azblob_url(spec),
                                             {AzuriteServer::k_key, ""}, http, s.logger);
  shared::http::StringSink list;
  store.call(client, "GET", "/archives/jobs/" + job.id + ".zip",
             {{"comp", "blocklist"}, {"blocklisttype", "committed"}}, "", {}, &list);
  INFO(list.body());
  CHECK(occurrences(list.body(), "<Block>") == 3);
  CHECK(occurrences(list.body(), "<Size>8388608</Size>") == 2);

  // A SAS that expired is refused; exists/remove work with Shared Key.
  shared::store::azure::BlobSas expired;
  expired.expiry = std::time(nullptr) - 60;
  const std::string stale =
      azurite.endpoint() + "/archives/jobs/" + job.id + ".zip?" +
      shared::store::azure::service_sas_query(AzuriteServer::k_account, AzuriteServer::k_key,
                                              "archives", "jobs/" + job.id + ".zip", expired);
  shared::http::StringSink ignored;
  try {
    client.get(stale, ignored);
    FAIL("an expired SAS was accepted");
  } catch (const shared::http::HttpStatusError& e) {
    CHECK(e.status() == 403);
  }
  CHECK(store.exists(job.id + ".zip"));
  CHECK(store.remove(job.id + ".zip"));
  CHECK_FALSE(store.exists(job.id + ".zip"));
  CHECK_FALSE(store.remove(job.id + ".zip"));
}

TEST_CASE("object store: Azurite with a SAS token instead of the key", "[azure]") {
  if (const auto why = AzuriteServer::install(AZURITE_CACHE_DIR)) {
    SKIP_TEST("Azurite is not available: " << *why);
  }
  AzuriteServer azurite(AZURITE_CACHE_DIR);
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger(shared::log::Dialect::plain, out, err);
  const auto location = shared::store::azure::parse_azblob_url(
      "azblob://devstoreaccount1/sasbox?endpoint=" + azurite.endpoint());
  // A SAS token cannot create the container: the key does, as a deployment would beforehand.
  shared::store::azure::AzureBlobStore keyed(location, {AzuriteServer::k_key, ""}, {}, logger);
  keyed.create("seed.bin")->commit();
  // A service SAS for one blob with write rights stands in for a deployment's SAS token.
  shared::store::azure::BlobSas write;
  write.permissions = "rcwd";
  write.expiry = std::time(nullptr) + 3600;
  const std::string token = shared::store::azure::service_sas_query(
      AzuriteServer::k_account, AzuriteServer::k_key, "sasbox", "only.bin", write);
  shared::store::azure::AzureBlobStore with_sas(location, {"", token}, {}, logger);
  auto writer = with_sas.create("only.bin");
  const std::string bytes = random_bytes((8u << 20) + 5, 11);
  writer->write(bytes.data(), bytes.size());
  writer->commit();
  CHECK(with_sas.exists("only.bin"));
  shared::http::Client client({}, logger);
  shared::http::StringSink body(32u << 20);
  client.get(with_sas.read_url("only.bin", std::chrono::seconds(60)), body);
  CHECK(body.body() == bytes);
  CHECK(with_sas.remove("only.bin"));
  CHECK(out.str().find(token.substr(token.find("sig=") + 4)) == std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The asynchronous routes of `download-dir-zip serve` over HTTP: the service (and, with
// --workers 0, a separate worker process) on a free loopback port, always stopped.

namespace {

// The JSON object of an answer's body.
Poco::JSON::Object::Ptr json_of(const RawResponse& response) {
  INFO(response.body);
  Poco::JSON::Parser parser;
  return parser.parse(response.body).extract<Poco::JSON::Object::Ptr>();
}

RawResponse post_json(const ServeProcess& service, const std::string& body) {
  return http_request(service.port(), "POST", "/archives", {"Content-Type: application/json"},
                      body);
}

// Submits through `target` (a POST route), checks the 201 answer; the job's id.
std::string submit_over_http(const ServeProcess& service, const std::string& target,
                             const std::string& body = "") {
  const RawResponse answer = target == "/archives" ? post_json(service, body)
                                                   : http_request(service.port(), "POST", target);
  INFO(answer.body);
  REQUIRE(answer.status == 201);
  CHECK(answer.header("content-type") == "application/json");
  const auto object = json_of(answer);
  const std::string id = object->getValue<std::string>("id");
  CHECK(answer.header("location") == "/archives/" + id);
  CHECK(object->getValue<std::string>("statusUrl") == "/archives/" + id);
  return id;
}

// Polls GET /archives/{id} until the job is done or failed (60 s at most); its last answer.
Poco::JSON::Object::Ptr wait_for_job(const ServeProcess& service, const std::string& id) {
  Poco::JSON::Object::Ptr job;
  const bool finished = eventually(
      [&] {
        const RawResponse answer = http_request(service.port(), "GET", "/archives/" + id);
        REQUIRE(answer.status == 200);
        job = json_of(answer);
        const std::string status = job->getValue<std::string>("status");
        return status == "done" || status == "failed";
      },
      60);
  REQUIRE(finished);
  REQUIRE(job->getValue<std::string>("status") == "done");
  return job;
}

// GETs a done job's archive from the service, whole and in a range; checks it against the
// job's size and SHA-256 and with the three readers against `expected`; the bytes.
std::string download_and_check(const ServeProcess& service, const Poco::JSON::Object::Ptr& job,
                               const Listing& expected, const std::string& folder) {
  const std::string url = job->getValue<std::string>("url");
  REQUIRE(url.rfind("/downloads/", 0) == 0);
  const RawResponse whole = http_request(service.port(), "GET", url);
  REQUIRE(whole.status == 200);
  CHECK(whole.header("content-type") == "application/zip");
  CHECK(whole.header("accept-ranges") == "bytes");
  CHECK(whole.header("content-disposition")
            .find("filename=\"" + job->getValue<std::string>("name") + "\"") != std::string::npos);
  CHECK(whole.body.size() == job->getValue<std::uint64_t>("size"));
  CHECK(sha_hex(whole.body) == job->getValue<std::string>("sha256"));
  const std::string archive = folder + "/downloaded.zip";
  write_file(archive, whole.body);
  check_archive(archive, expected);

  REQUIRE(whole.body.size() > 4196);
  const RawResponse part = http_request(service.port(), "GET", url, {"Range: bytes=100-4195"});
  REQUIRE(part.status == 206);
  CHECK(part.header("content-range") == "bytes 100-4195/" + std::to_string(whole.body.size()));
  CHECK(part.body == whole.body.substr(100, 4096));
  const RawResponse tail = http_request(service.port(), "GET", url, {"Range: bytes=-22"});
  REQUIRE(tail.status == 206);
  CHECK(tail.body == whole.body.substr(whole.body.size() - 22)); // the end of central directory
  const RawResponse head = http_request(service.port(), "HEAD", url);
  CHECK(head.status == 200);
  CHECK(head.header("content-length") == std::to_string(whole.body.size()));
  return whole.body;
}

} // namespace

TEST_CASE("serve: asynchronous archive over HTTP: POST, poll, download with Range, reuse, change",
          "[serve][async]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  INFO(backend);
  TempDir folder;
  const Database db(backend, folder);
  const std::string root = folder / "root";
  const Listing expected = make_folder(root, "42/dist", 3u << 20, 5);
  ServeProcess service(
      k_zip, {"--root", root, "--db", db.spec, "--store", folder / "store", "--log-requests"});

  const std::string id =
      submit_over_http(service, "/v4/builds/42/artifacts/dist?type=download&dir=true&async=true");
  const auto job = wait_for_job(service, id);
  CHECK(job->getValue<std::string>("id") == id);
  CHECK(job->getValue<std::string>("name") == "dist_dir.zip");
  CHECK(job->getValue<std::string>("url") == "/downloads/" + id + ".zip");
  CHECK_FALSE(job->has("reusedFrom"));
  const std::string first = download_and_check(service, job, expected, folder / "");

  // Unchanged: POST /archives is done at once with the same archive.
  const RawResponse again = post_json(service, R"({"build": "42", "path": "dist"})");
  REQUIRE(again.status == 201);
  const auto reused = json_of(again);
  CHECK(reused->getValue<std::string>("status") == "done");
  CHECK(reused->getValue<std::string>("reusedFrom") == id);
  CHECK(reused->getValue<std::string>("url") == job->getValue<std::string>("url"));
  CHECK(reused->getValue<std::string>("sha256") == job->getValue<std::string>("sha256"));

  // Changed: a new archive, with the new file.
  write_file(root + "/42/dist/added.txt", "new");
  const std::string changed =
      submit_over_http(service, "/archives", R"({"build":"42","path":"dist"})");
  CHECK(changed != id);
  const auto rebuilt = wait_for_job(service, changed);
  CHECK_FALSE(rebuilt->has("reusedFrom"));
  CHECK(rebuilt->getValue<std::string>("sha256") != job->getValue<std::string>("sha256"));
  Listing with_added = expected;
  with_added["added.txt"] = {sha_hex("new"), 3, 0100644};
  const std::string second = download_and_check(service, rebuilt, with_added, folder / "");
  CHECK(second != first);
  // The first archive is still served under its own name.
  CHECK(http_request(service.port(), "GET", "/downloads/" + id + ".zip").body == first);

  // A whole build: POST /v4/builds/{id}/artifacts?async=true and {"build": …} alone.
  const std::string whole = submit_over_http(service, "/v4/builds/42/artifacts?async=true");
  CHECK(wait_for_job(service, whole)->getValue<std::string>("name") == "42_artifacts.zip");
  const auto by_build = json_of(post_json(service, R"({"build":"42"})"));
  CHECK(by_build->getValue<std::string>("reusedFrom") == whole);
}

TEST_CASE("serve: --workers 0 leaves the jobs to a separate download-dir-zip worker",
          "[serve][async]") {
  TempDir folder;
  const std::string root = folder / "root";
  const std::string db = folder / "jobs.sqlite";
  const Listing expected = make_folder(root, "7/out", 1u << 20, 9);
  ServeProcess service(k_zip,
                       {"--root", root, "--db", db, "--store", folder / "store", "--workers", "0"});
  const std::string id =
      submit_over_http(service, "/v4/builds/7/artifacts/out?type=download&dir=true&async=true");
  const RawResponse queued = http_request(service.port(), "GET", "/archives/" + id);
  REQUIRE(queued.status == 200);
  CHECK(json_of(queued)->getValue<std::string>("status") == "queued"); // nobody zips here

  const auto run = run_process(
      {k_zip, "worker", "--root", root, "--db", db, "--store", folder / "store", "--once"});
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("Job " + id + " done") != std::string::npos);
  const auto job = wait_for_job(service, id);
  download_and_check(service, job, expected, folder / "");
}

TEST_CASE("serve: hostile and bad requests on the asynchronous routes get their statuses",
          "[serve][async]") {
  TempDir folder;
  const std::string root = folder / "root";
  make_folder(root, "42/dist");
  make_folder(root, "42/big", 4096);
  std::filesystem::create_directories(folder / "store");
  std::filesystem::create_symlink(root + "/42/dist/a.txt", folder / "store/link.zip");
  std::filesystem::create_symlink(root + "/42/dist", root + "/42/linked");
  ServeProcess service(k_zip, {"--root", root, "--db", folder / "jobs.sqlite", "--store",
                               folder / "store", "--workers", "0", "--max-download-size", "1000"});
  const int port = service.port();
  const std::string async = "?type=download&dir=true&async=true";
  const std::string uuid = "0123abcd-0123-4567-89ab-0123456789ab";
  struct Case {
    std::string method, target, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", "/v4/builds/42/artifacts/dist?type=download&dir=true", "", 400}, // no async
      {"POST", "/v4/builds/42/artifacts/dist?async=true", "", 400},             // no dir=true
      {"POST", "/v4/builds/42/artifacts/dist?dir=true&async=true&type=preview", "", 400},
      {"POST", "/v4/builds/42/artifacts/nope" + async, "", 404},
      {"POST", "/v4/builds/43/artifacts/dist" + async, "", 404},
      {"POST", "/v4/builds/42/artifacts/linked" + async, "", 404},     // a symlink
      {"POST", "/v4/builds/42/artifacts/dist/a.txt" + async, "", 404}, // a file
      {"POST", "/v4/builds/42/artifacts/%2e%2e" + async, "", 400},
      {"POST", "/v4/builds/42/artifacts/..%2F..%2Fetc" + async, "", 400},
      {"POST", "/v4/builds/42/artifacts/%252e%252e" + async, "", 400},
      {"POST", "/v4/builds/42/artifacts/a%00b" + async, "", 400},
      {"POST", "/v4/builds/42/artifacts/" + std::string(300, 'x') + async, "", 400},
      {"POST", "/v4/builds/42/artifacts/big" + async, "", 413},
      {"POST", "/archives", "{bad json", 400},
      {"POST", "/archives", "", 400},
      {"POST", "/archives", "[1, 2]", 400},
      {"POST", "/archives", R"({"path": "dist"})", 400},
      {"POST", "/archives", R"({"build": 42})", 400},
      {"POST", "/archives", R"({"build": "42", "path": "../etc"})", 400},
      {"POST", "/archives", R"({"build": "42", "path": "/etc"})", 400},
      {"POST", "/archives", R"({"build": "42", "path": "dist/"})", 400},
      {"POST", "/archives", R"({"build": "42", "path": "%2e%2e"})", 400},
      {"POST", "/archives", R"({"build": "..", "path": "dist"})", 400},
      {"POST", "/archives", R"({"build": "42/dist"})", 400},
      {"POST", "/archives", "{\"build\": \"42\", \"path\": \"a\\u0000b\"}", 400},
      {"POST", "/archives", R"({"build": "42", "path": "nope"})", 404},
      {"POST", "/archives", R"({"build": "42", "path": "linked"})", 404},
      {"POST", "/archives", R"({"build": "42", "path": "big"})", 413},
      {"POST", "/archives", "{\"build\": \"" + std::string(70000, 'x') + "\"}", 413},
      {"GET", "/archives/" + uuid, "", 404},
      {"GET", "/archives/nope", "", 404},
      {"GET", "/archives/" + std::string(300, 'a'), "", 400},
      {"GET", "/archives/%2e%2e", "", 400},
      {"DELETE", "/archives/" + uuid, "", 405},
      {"GET", "/downloads/" + uuid + ".zip", "", 404},
      {"GET", "/downloads/link.zip", "", 404}, // a symlink in the store
      {"GET", "/downloads/..%2Fjobs.sqlite", "", 400},
      {"GET", "/downloads/%2e%2e", "", 400},
      {"GET", "/downloads/a%20b.zip", "", 404}, // not an object name
      {"GET", "/downloads/", "", 404},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target.substr(0, 120) << " " << c.body.substr(0, 80));
    const RawResponse answer = http_request(port, c.method, c.target, {}, c.body);
    CHECK(answer.status == c.status);
    if (c.status == 413 && c.body.size() < 1000) {
      const auto error = json_of(answer);
      CHECK(error->getValue<int>("statusCode") == 413);
      CHECK(error->getValue<std::uint64_t>("limit") == 1000);
      CHECK(error->getValue<std::uint64_t>("size") > 1000);
    }
    CHECK(answer.body.find("hello from") == std::string::npos); // nothing from the tree
  }
  // Nothing was queued by any of them.
  CHECK(JobStore::open(folder / "jobs.sqlite")->counts().queued == 0);
}

TEST_CASE("serve: with --secret the asynchronous POSTs need signed links; curl -C - resumes",
          "[serve][async]") {
  TempDir folder;
  const std::string root = folder / "root";
  const Listing expected = make_folder(root, "9/site", 1u << 20, 3);
  const std::string secret = "s3cret-for-tests";
  ServeProcess service(k_zip, {"--root", root, "--db", folder / "jobs.sqlite", "--store",
                               folder / "store", "--secret", secret});
  const std::string path = "/v4/builds/9/artifacts/site";
  const std::string query = "type=download&dir=true&async=true";
  CHECK(http_request(service.port(), "POST", path + "?" + query).status == 403);
  CHECK(post_json(service, R"({"build": "9", "path": "site"})").status == 403);
  CHECK(JobStore::open(folder / "jobs.sqlite")->counts().queued == 0);

  const std::string signed_link =
      shared::server::sign_link(secret, path, std::time(nullptr) + 600) + "&" + query;
  const std::string id = submit_over_http(service, signed_link);
  // The job and its archive are reached by the job's random id, unsigned.
  const auto job = wait_for_job(service, id);
  const std::string full = download_and_check(service, job, expected, folder / "");

  const std::string archive = folder / "resumed.zip";
  write_file(archive, full.substr(0, full.size() / 2));
  const auto curl = run_process({"/usr/bin/curl", "-sS", "-f", "-C", "-", "-o", archive,
                                 service.url(job->getValue<std::string>("url"))});
  INFO(curl.err);
  REQUIRE(curl.exit_code == 0);
  CHECK(read_file(archive) == full);
  check_archive(archive, expected);
}
