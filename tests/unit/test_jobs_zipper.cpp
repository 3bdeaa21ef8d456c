// The asynchronous archives' zipper and submit (tasks/download-dir-zip/jobs/zipper, worker's
// work_one) with SQLite and a local object store: archives read by unzip -t, Python's zipfile
// and Poco::Zip; reuse of an unchanged folder's archive and a new one after a change.
#include "shared/log/logger.hpp"
#include "shared/store/local_store.hpp"
#include "tasks/download-dir-zip/jobs/worker.hpp"
#include "tasks/download-dir-zip/jobs/zipper.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zip_readers.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <sstream>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace tasks::download_dir_zip::jobs;
using namespace tests::support;

namespace {

struct Fixture {
  TempDir folder;
  std::ostringstream out;
  std::ostringstream err;
  shared::log::Logger logger{shared::log::Dialect::plain, out, err};
  std::unique_ptr<JobStore> jobs = JobStore::open(folder / "jobs.sqlite");
  shared::store::LocalStore store{folder / "store"};
  SubmitOptions submit;
  WorkerOptions worker;
  WorkerSummary summary;

  Fixture() {
    submit.root = folder / "root";
    worker.root = submit.root;
    worker.worker_id = "test";
    write_file(folder / "root/42/dist/a.txt", "hello\n");
    write_file(folder / "root/42/dist/sub/b.txt", std::string(100000, 'b'));
    ::chmod((folder / "root/42/dist/a.txt").c_str(), 0640);
  }

  Listing expected() const {
    return {{"a.txt", {sha_hex("hello\n"), 6, 0100640}},
            {"sub/", {sha_hex(""), 0, 040755}},
            {"sub/b.txt", {sha_hex(std::string(100000, 'b')), 100000, 0100644}}};
  }
};

std::uint32_t folder_mode(const std::string& path) {
  struct stat info {};
  ::stat(path.c_str(), &info);
  return info.st_mode;
}

} // namespace

TEST_CASE("a submitted folder is zipped into the local store and recorded", "[jobs]") {
  Fixture f;
  auto expected = f.expected();
  expected["sub/"].mode = folder_mode(f.folder / "root/42/dist/sub");
  // Symlinks are not followed, out of the folder or in it: neither is in the archive.
  write_file(f.folder / "secret.txt", "outside the root");
  REQUIRE(::symlink((f.folder / "secret.txt").c_str(), (f.folder / "root/42/dist/out").c_str()) ==
          0);
  REQUIRE(::symlink("a.txt", (f.folder / "root/42/dist/in").c_str()) == 0);
  const Submitted submitted =
      submit_folder(*f.jobs, f.store, "42/dist", "dist_dir.zip", f.submit, f.logger);
  CHECK_FALSE(submitted.reused);
  CHECK(submitted.job.status == Status::queued);
  CHECK(submitted.job.fingerprint.size() == 64);

  REQUIRE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary));
  CHECK(f.summary.done == 1);
  const auto job = f.jobs->get(submitted.job.id);
  REQUIRE(job);
  CHECK(job->status == Status::done);
  CHECK(job->url == "/downloads/" + job->id + ".zip");
  const std::string path = f.store.local_path(job->id + ".zip").value();
  const std::string bytes = read_file(path);
  CHECK(job->size == bytes.size());
  CHECK(job->sha256 == sha_hex(bytes));
  check_archive(path, expected);
  CHECK_FALSE(exists(path + ".part"));
  CHECK_FALSE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary)); // queue empty
}

TEST_CASE("an unchanged folder reuses the archive; a change gives a new one", "[jobs]") {
  Fixture f;
  const auto first = submit_folder(*f.jobs, f.store, "42/dist", "d.zip", f.submit, f.logger);
  REQUIRE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary));
  const auto done = f.jobs->get(first.job.id).value();

  const auto again = submit_folder(*f.jobs, f.store, "42/dist/", "d.zip", f.submit, f.logger);
  CHECK(again.reused);
  CHECK(again.job.status == Status::done);
  CHECK(again.job.reused_from == first.job.id);
  CHECK(again.job.sha256 == done.sha256);
  CHECK(again.job.url == done.url);
  CHECK_FALSE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary)); // nothing to zip

  // Same size, other content and time: the fingerprint sees the modification time.
  write_file(f.folder / "root/42/dist/a.txt", "HELLO\n");
  struct timespec times[2] = {{0, UTIME_OMIT}, {1'700'000'000, 5}};
  ::utimensat(AT_FDCWD, (f.folder / "root/42/dist/a.txt").c_str(), times, 0);
  const auto changed = submit_folder(*f.jobs, f.store, "42/dist", "d.zip", f.submit, f.logger);
  CHECK_FALSE(changed.reused);
  CHECK(changed.job.fingerprint != first.job.fingerprint);
  REQUIRE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary));
  const auto rebuilt = f.jobs->get(changed.job.id).value();
  CHECK(rebuilt.status == Status::done);
  CHECK(rebuilt.sha256 != done.sha256);
  // A file added also counts.
  write_file(f.folder / "root/42/dist/new.txt", "");
  CHECK_FALSE(submit_folder(*f.jobs, f.store, "42/dist", "d.zip", f.submit, f.logger).reused);
}

TEST_CASE("submit refuses missing folders, bad paths and folders over the limit", "[jobs]") {
  Fixture f;
  CHECK_THROWS_AS(submit_folder(*f.jobs, f.store, "42/none", "x.zip", f.submit, f.logger),
                  FolderNotFound);
  CHECK_THROWS_AS(submit_folder(*f.jobs, f.store, "42/dist/a.txt", "x.zip", f.submit, f.logger),
                  FolderNotFound);
  for (const std::string& bad :
       {std::string("../etc"), std::string("42/../../x"), std::string("/etc"), std::string("a\\b"),
        std::string("42\0/x", 4), std::string("42\n")}) {
    INFO(bad);
    try {
      submit_folder(*f.jobs, f.store, bad, "x.zip", f.submit, f.logger);
      FAIL("accepted");
    } catch (const FolderNotFound&) {
      FAIL("a bad path is not a missing folder");
    } catch (const shared::error::UsageError& e) {
      CHECK(std::string(e.what()).rfind("folder ", 0) == 0);
    }
  }
  // A symlink on the way is not followed, not even inside the root.
  REQUIRE(::symlink((f.folder / "root/42/dist").c_str(), (f.folder / "root/link").c_str()) == 0);
  CHECK_THROWS_AS(submit_folder(*f.jobs, f.store, "link", "x.zip", f.submit, f.logger),
                  FolderNotFound);
  f.submit.max_size = 1000;
  try {
    submit_folder(*f.jobs, f.store, "42/dist", "x.zip", f.submit, f.logger);
    FAIL("accepted");
  } catch (const FolderTooLarge& e) {
    CHECK(e.size() == 100006);
    CHECK(e.limit() == 1000);
  }
  CHECK(f.jobs->counts().queued == 0);
}

TEST_CASE("a job whose folder went away fails with the reason", "[jobs]") {
  Fixture f;
  const auto submitted = submit_folder(*f.jobs, f.store, "42/dist", "d.zip", f.submit, f.logger);
  std::filesystem::remove_all(f.folder / "root/42");
  REQUIRE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary));
  const auto job = f.jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::failed);
  CHECK(job.error == "folder \"42/dist\": no such folder");
  CHECK(f.summary.failed == 1);
}

TEST_CASE("a stop request mid-job puts the job back and leaves no object", "[jobs]") {
  Fixture f;
  const auto submitted = submit_folder(*f.jobs, f.store, "42/dist", "d.zip", f.submit, f.logger);
  f.worker.stop = [] { return true; };
  REQUIRE(work_one(*f.jobs, f.store, f.worker, f.logger, f.summary));
  CHECK(f.summary.released == 1);
  CHECK(f.jobs->get(submitted.job.id)->status == Status::queued);
  CHECK_FALSE(f.store.exists(submitted.job.id + ".zip"));
  CHECK_FALSE(exists(f.folder / ("store/" + submitted.job.id + ".zip.part")));
}

TEST_CASE("the local store writes through a part file and deletes", "[store]") {
  TempDir folder;
  shared::store::LocalStore store(folder / "s");
  {
    auto writer = store.create("a/b.zip");
    writer->write("abc", 3);
    CHECK(exists(folder / "s/a/b.zip.part"));
    CHECK_FALSE(store.exists("a/b.zip"));
  } // abandoned
  CHECK_FALSE(exists(folder / "s/a/b.zip.part"));
  auto writer = store.create("a/b.zip");
  writer->write("abc", 3);
  CHECK(writer->size() == 3);
  writer->commit();
  CHECK(read_file(folder / "s/a/b.zip") == "abc");
  CHECK(store.read_url("a/b.zip", std::chrono::seconds(1)) == "/downloads/a/b.zip");
  CHECK(store.remove("a/b.zip"));
  CHECK_FALSE(store.remove("a/b.zip"));
  for (const char* bad : {"", "../x", "a//b", "/a", "a/", "a b", "a/./b"}) {
    INFO(bad);
    CHECK_THROWS_AS(store.create(bad), shared::error::UsageError);
  }
  auto object = store.create("written");
  object->write("file body", 9);
  CHECK_FALSE(exists(folder / "s/written"));
  object->commit();
  CHECK(read_file(folder / "s/written") == "file body");
}

TEST_CASE("a worker whose lease was taken over stops zipping and records nothing", "[jobs]") {
  Fixture f;
  auto now = std::make_shared<std::atomic<std::int64_t>>(1'800'000'000);
  JobStoreOptions clocked;
  clocked.clock = [now] { return now->load(); };
  auto jobs = JobStore::open(f.folder / "clocked.sqlite", clocked);
  auto other = JobStore::open(f.folder / "clocked.sqlite", clocked);
  write_file(f.folder / "root/42/dist/big.bin", std::string(2u << 20, 'x'));
  const auto submitted = submit_folder(*jobs, f.store, "42/dist", "d.zip", f.submit, f.logger);
  f.worker.lease = 1;             // renewed every 333 ms
  f.worker.max_rate = 512u << 10; // about 4 s for the archive
  std::thread worker([&] { work_one(*jobs, f.store, f.worker, f.logger, f.summary); });
  while (jobs->get(submitted.job.id)->status != Status::running) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // The lease runs out (as if the worker had hung) and another worker takes the job; a renewal
  // that slips in between gives the lease another second, so move on until the claim works.
  std::optional<Claim> taken;
  for (int i = 0; i < 100 && !taken; ++i) {
    *now += 10;
    taken = other->claim("other", 60);
  }
  worker.join();
  REQUIRE(taken);
  CHECK(f.summary.lost == 1);
  CHECK(f.summary.done == 0);
  const auto job = jobs->get(submitted.job.id).value();
  CHECK(job.status == Status::running);
  CHECK(job.worker == "other");
  CHECK((f.out.str() + f.err.str()).find("the lease was lost") != std::string::npos);
}

TEST_CASE("a job's status as the service answers it, in JSON", "[jobs]") {
  Job job;
  job.id = "0b1e4a4e-7a55-4d5e-9d59-0c4f9a7b2f10";
  job.name = "dist_dir.zip";
  job.created = 1800000000;
  CHECK(job_json(job) == "{\"created\":1800000000,\"id\":\"0b1e4a4e-7a55-4d5e-9d59-0c4f9a7b2f10\","
                         "\"name\":\"dist_dir.zip\",\"status\":\"queued\"}");
  job.status = Status::done;
  job.url = "/downloads/x.zip";
  job.size = 5000000000;
  job.sha256 = std::string(64, 'f');
  job.expires = 1800086400;
  job.reused_from = "other";
  const std::string done = job_json(job);
  CHECK(done.find("\"size\":5000000000") != std::string::npos);
  CHECK(done.find("\"url\":\"/downloads/x.zip\"") != std::string::npos);
  CHECK(done.find("\"reusedFrom\":\"other\"") != std::string::npos);
  CHECK(done.find("error") == std::string::npos);
  job.status = Status::failed;
  job.error = "folder \"a\": no such folder";
  const std::string failed = job_json(job);
  CHECK(failed.find("\"error\":\"folder \\\"a\\\": no such folder\"") != std::string::npos);
  CHECK(failed.find("url") == std::string::npos);
}
