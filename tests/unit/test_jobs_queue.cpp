// The asynchronous archive jobs' queue (tasks/download-dir-zip/jobs/job_store) on SQLite, with
// a clock the test moves: lifecycle, leases, fencing, attempts, reuse, TTL cleanup, schema.
// PostgreSQL runs the same operations in tests/integration/test_download_dir_zip_jobs.cpp.
#include "shared/error/error.hpp"
#include "shared/store/local_store.hpp"
#include "shared/task/inputs.hpp"
#include "shared/task/manifest_yaml.hpp"
#include "tasks/download-dir-zip/jobs/job_store.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace tasks::download_dir_zip::jobs;
using namespace tests::support;

namespace {

struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> seconds =
      std::make_shared<std::atomic<std::int64_t>>(1'800'000'000);
  std::function<std::int64_t()> function() const {
    auto s = seconds;
    return [s] { return s->load(); };
  }
  void advance(std::int64_t by) { *seconds += by; }
};

JobStoreOptions options_with(const FakeClock& clock, std::int64_t ttl = 3600) {
  JobStoreOptions options;
  options.ttl = ttl;
  options.clock = clock.function();
  options.reuse_margin = 60;
  return options;
}

Archive archive_for(const Claim& claim, const JobStore& jobs) {
  Archive archive;
  archive.object = claim.job.id + ".zip";
  archive.url = "/downloads/" + archive.object;
  archive.size = 1234;
  archive.sha256 = std::string(64, 'a');
  archive.fingerprint = claim.job.fingerprint;
  archive.expires = jobs.current_time() + jobs.options().ttl;
  return archive;
}

} // namespace

TEST_CASE("a job goes queued, running, done with its fields", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock));
  CHECK(jobs->backend() == "sqlite");
  const Job job = jobs->submit("42/dist", "dist_dir.zip", "fp1");
  CHECK(job.id.size() == 36);
  auto seen = jobs->get(job.id);
  REQUIRE(seen);
  CHECK(seen->status == Status::queued);
  CHECK(seen->folder == "42/dist");
  CHECK(seen->name == "dist_dir.zip");

  auto claim = jobs->claim("w1", 30);
  REQUIRE(claim);
  CHECK(claim->job.id == job.id);
  CHECK(claim->job.status == Status::running);
  CHECK(claim->job.worker == "w1");
  CHECK(claim->job.attempts == 1);
  CHECK(claim->job.lease_until == clock.seconds->load() + 30);
  CHECK_FALSE(jobs->claim("w2", 30)); // nothing else is claimable
  clock.advance(20);
  CHECK(jobs->renew(*claim, 30));
  CHECK(jobs->get(job.id)->lease_until == clock.seconds->load() + 30);

  REQUIRE(jobs->finish(*claim, archive_for(*claim, *jobs)));
  seen = jobs->get(job.id);
  CHECK(seen->status == Status::done);
  CHECK(seen->url == "/downloads/" + job.id + ".zip");
  CHECK(seen->size == 1234);
  CHECK(seen->sha256 == std::string(64, 'a'));
  CHECK(seen->error.empty());
  CHECK(seen->expires == clock.seconds->load() + 3600);
  CHECK_FALSE(jobs->renew(*claim, 30)); // no longer running
  CHECK_FALSE(jobs->get("no-such-job"));
}

TEST_CASE("an expired lease makes the job claimable again and fences the old worker", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock));
  const Job job = jobs->submit("a", "a_dir.zip", "");
  auto first = jobs->claim("dead", 10);
  REQUIRE(first);
  clock.advance(10);
  CHECK_FALSE(jobs->claim("other", 10)); // still leased: the lease's last second
  clock.advance(1);
  auto second = jobs->claim("other", 10);
  REQUIRE(second);
  CHECK(second->job.id == job.id);
  CHECK(second->job.attempts == 2);
  CHECK(second->token != first->token);
  // The first worker comes back: it can no longer touch the job.
  CHECK_FALSE(jobs->renew(*first, 10));
  CHECK_FALSE(jobs->finish(*first, archive_for(*first, *jobs)));
  CHECK_FALSE(jobs->fail(*first, "late"));
  CHECK(jobs->get(job.id)->worker == "other");
  CHECK(jobs->finish(*second, archive_for(*second, *jobs)));
  CHECK(jobs->get(job.id)->status == Status::done);
}

TEST_CASE("a job whose workers keep dying fails after max_attempts", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  auto options = options_with(clock);
  options.max_attempts = 2;
  auto jobs = JobStore::open(folder / "jobs.sqlite", options);
  const Job job = jobs->submit("a", "a.zip", "");
  REQUIRE(jobs->claim("w", 5));
  clock.advance(6);
  REQUIRE(jobs->claim("w", 5));
  clock.advance(6);
  CHECK_FALSE(jobs->claim("w", 5));
  const auto seen = jobs->get(job.id);
  CHECK(seen->status == Status::failed);
  CHECK(seen->error.find("2 times") != std::string::npos);
}

TEST_CASE("fail records the error; release puts a job back at once", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock));
  const Job a = jobs->submit("a", "a.zip", "");
  clock.advance(1);
  const Job b = jobs->submit("b", "b.zip", "");
  auto claim_a = jobs->claim("w", 60);
  REQUIRE(claim_a);
  CHECK(claim_a->job.id == a.id); // oldest first
  CHECK(jobs->fail(*claim_a, "folder \"a\": no such folder"));
  CHECK(jobs->get(a.id)->status == Status::failed);
  CHECK(jobs->get(a.id)->error == "folder \"a\": no such folder");
  auto claim_b = jobs->claim("w", 60);
  REQUIRE(claim_b);
  CHECK(jobs->release(*claim_b));
  const auto seen = jobs->get(b.id);
  CHECK(seen->status == Status::queued);
  CHECK(seen->attempts == 0);
  CHECK(jobs->claim("w2", 60)->job.id == b.id);
}

TEST_CASE("reuse: a done job with the same folder and fingerprint, while it lives", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock, 600));
  const Job job = jobs->submit("42/dist", "dist_dir.zip", "fp");
  CHECK_FALSE(jobs->find_reusable("42/dist", "fp")); // not done yet
  auto claim = jobs->claim("w", 60);
  REQUIRE(jobs->finish(*claim, archive_for(*claim, *jobs)));
  CHECK_FALSE(jobs->find_reusable("42/dist", "other"));
  CHECK_FALSE(jobs->find_reusable("42/other", "fp"));
  CHECK_FALSE(jobs->find_reusable("42/dist", ""));
  auto original = jobs->find_reusable("42/dist", "fp");
  REQUIRE(original);
  CHECK(original->id == job.id);
  const Job reused = jobs->submit_reused(*original, "again.zip", "/downloads/x");
  CHECK(reused.status == Status::done);
  CHECK(reused.reused_from == job.id);
  CHECK(jobs->get(reused.id)->object == job.id + ".zip");
  CHECK(jobs->get(reused.id)->expires == original->expires);
  clock.advance(600 - 60); // less than reuse_margin left
  CHECK_FALSE(jobs->find_reusable("42/dist", "fp"));
}

TEST_CASE("cleanup deletes expired jobs and the archives no job refers to", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  shared::store::LocalStore store(folder / "store");
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock, 100));
  const Job job = jobs->submit("f", "f.zip", "fp");
  auto claim = jobs->claim("w", 60);
  const Archive archive = archive_for(*claim, *jobs);
  store.create(archive.object)->commit();
  REQUIRE(jobs->finish(*claim, archive));
  auto reused = jobs->submit_reused(*jobs->find_reusable("f", "fp"), "g.zip", "/downloads/x");
  const Job failing = jobs->submit("h", "h.zip", "");
  auto claim_h = jobs->claim("w", 60);
  REQUIRE(jobs->fail(*claim_h, "broken"));
  const Job waiting = jobs->submit("q", "q.zip", "");

  CHECK(jobs->cleanup(store) == 0);
  clock.advance(100);
  CHECK(jobs->cleanup(store) == 3);
  CHECK_FALSE(jobs->get(job.id));
  CHECK_FALSE(jobs->get(reused.id));
  CHECK_FALSE(jobs->get(failing.id));
  CHECK(jobs->get(waiting.id)); // queued jobs do not expire
  CHECK_FALSE(store.exists(archive.object));
}

TEST_CASE("cleanup keeps an archive that a living job still refers to", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  shared::store::LocalStore store(folder / "store");
  auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock, 100));
  const Job first = jobs->submit("f", "f.zip", "fp");
  auto claim = jobs->claim("w", 60);
  const Archive archive = archive_for(*claim, *jobs);
  store.create(archive.object)->commit();
  REQUIRE(jobs->finish(*claim, archive));
  clock.advance(50);
  const Job second = jobs->submit("f", "f.zip", "fp");
  auto claim2 = jobs->claim("w", 60);
  Archive shared_archive = archive_for(*claim2, *jobs);
  shared_archive.object = archive.object; // the same object, living 50 s longer
  REQUIRE(jobs->finish(*claim2, shared_archive));
  clock.advance(50);
  CHECK(jobs->cleanup(store) == 1);
  CHECK_FALSE(jobs->get(first.id));
  CHECK(store.exists(archive.object));
  clock.advance(50);
  CHECK(jobs->cleanup(store) == 1);
  CHECK_FALSE(jobs->get(second.id));
  CHECK_FALSE(store.exists(archive.object));
}

TEST_CASE("the schema is created once and opening again keeps the jobs", "[jobs]") {
  TempDir folder;
  FakeClock clock;
  std::string id;
  {
    auto jobs = JobStore::open(folder / "jobs.sqlite", options_with(clock));
    id = jobs->submit("a", "a.zip", "").id;
  }
  auto again = JobStore::open("sqlite:" + (folder / "jobs.sqlite"), options_with(clock));
  CHECK(again->get(id));
  CHECK_THROWS_AS(JobStore::open("mysql://x/y"), shared::error::UsageError);
  CHECK_THROWS_AS(JobStore::open(folder / "missing/folder/jobs.sqlite"), shared::error::UsageError);
}

TEST_CASE("two stores on one SQLite file never claim the same job", "[jobs]") {
  TempDir folder;
  constexpr int k_jobs = 200;
  {
    auto jobs = JobStore::open(folder / "jobs.sqlite");
    for (int i = 0; i < k_jobs; ++i) {
      jobs->submit("f" + std::to_string(i), "f.zip", "");
    }
  }
  std::mutex mutex;
  std::multiset<std::string> claimed;
  const auto work = [&](const std::string& worker) {
    auto jobs = JobStore::open(folder / "jobs.sqlite");
    while (auto claim = jobs->claim(worker, 600)) {
      CHECK(jobs->finish(*claim, archive_for(*claim, *jobs)));
      std::lock_guard<std::mutex> lock(mutex);
      claimed.insert(claim->job.id);
    }
  };
  std::thread a(work, "a");
  std::thread b(work, "b");
  a.join();
  b.join();
  CHECK(claimed.size() == k_jobs);
  CHECK(std::set<std::string>(claimed.begin(), claimed.end()).size() == k_jobs);
  auto jobs = JobStore::open(folder / "jobs.sqlite");
  const auto counts = jobs->counts();
  CHECK(counts.queued == 0);
  CHECK(counts.running == 0);
}

TEST_CASE("the fingerprint does not depend on the order of its lines", "[jobs]") {
  CHECK(fingerprint_lines({"f a 1 2 420 ", "d b 0 3 493 "}) ==
        fingerprint_lines({"d b 0 3 493 ", "f a 1 2 420 "}));
  CHECK(fingerprint_lines({"f a 1 2 420 "}) != fingerprint_lines({"f a 1 3 420 "}));
  CHECK(fingerprint_lines({}).size() == 64);
}

TEST_CASE("PostgreSQL URIs become libpq keyword strings", "[jobs]") {
  CHECK(postgres_keywords("postgresql://postgres@127.0.0.1:5432/jobs") ==
        "host=127.0.0.1 port=5432 dbname=jobs user=postgres");
  CHECK(postgres_keywords("postgres://u:p%20w'x@db.example/a%2Fb?sslmode=require") ==
        "host=db.example dbname=a/b user=u password='p w\\'x' sslmode=require");
  CHECK(postgres_keywords("postgresql://[::1]:6000/d") == "host=::1 port=6000 dbname=d");
  CHECK(postgres_keywords("postgresql://") == "dbname=postgres");
  CHECK_THROWS_AS(postgres_keywords("postgresql://h:port/d"), shared::error::UsageError);
  CHECK_THROWS_AS(postgres_keywords("postgresql://h/d?novalue"), shared::error::UsageError);
}

TEST_CASE("the worker's manifest parses and its defaults are valid", "[jobs]") {
  const auto read = [](const std::string& name) {
    return read_file(std::string(MANIFEST_DIR) + "/" + name + ".yml");
  };
  const auto manifest = shared::task::parse_manifest(read("download-dir-zip-worker"),
                                                     read("common") + "\n---\n" + read("http"));
  CHECK(manifest.name == "download-dir-zip worker");
  for (const auto& input : manifest.inputs) {
    INFO(input.name);
    CHECK_FALSE(input.help.empty());
  }
  const shared::log::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "INPUT_ROOT") {
      return std::string("/tmp");
    }
    return std::nullopt;
  };
  const char* argv[] = {"worker"};
  const auto line = shared::task::parse_command_line(manifest, 1, argv, env);
  CHECK(line.inputs.text("db") == "download-dir-zip-jobs.sqlite");
  CHECK(line.inputs.number("lease") == 60);
}
