// download-dir-zip serve, the executable: started on a free loopback port by each test and
// always stopped (tests/support/serve_process.hpp). Archives are fetched with curl and with a
// raw HTTP client (exact request bytes: "..", %2F, NUL, bad Range headers) and read back by
// three readers (tests/support/zip_readers.hpp).
#include "shared/hash/sha256.hpp"
#include "shared/server/signed_link.hpp"
#include "tests/support/process.hpp"
#include "tests/support/serve_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/zip_readers.hpp"

#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <regex>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

using namespace tests::support;

namespace {

const std::string k_exe = DOWNLOAD_DIR_ZIP_EXE;
const std::string k_curl = "/usr/bin/curl";
const std::string k_outside_text = "secret outside the root\n";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void make_file(const std::string& path, std::string_view content, mode_t mode = 0644) {
  write_file(path, content);
  REQUIRE(::chmod(path.c_str(), mode) == 0);
}

void make_link(const std::string& target, const std::string& link) {
  REQUIRE(::symlink(target.c_str(), link.c_str()) == 0);
}

// Bytes that do not compress (xorshift), fast to make.
std::string random_body(std::size_t size, unsigned seed) {
  std::string body(size, '\0');
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&body[i], &x, 8);
  }
  return body;
}

// root/photos: files (hostile names, modes, one spanning several 256 KiB buffers), an empty
// folder, symlinks in and out; root/evil -> ../outside; root/file.txt; outside/ next to root.
struct Tree {
  TempDir folder;
  std::string root = folder / "root";
  std::string photos = folder / "root/photos";
  Tree() {
    make_file(photos + "/1.jpg", "jpeg one\n");
    make_file(photos + "/2.jpg", random_body(900000, 2));
    make_file(photos + "/sub/ünï cödé \"q\" #%.txt", "symbols\n");
    make_file(photos + "/sub/run.sh", "#!/bin/sh\n", 0755);
    make_file(photos + "/empty-file", "");
    std::filesystem::create_directories(photos + "/empty folder");
    make_file(folder / "outside/secret.txt", k_outside_text);
    make_link("../../outside/secret.txt", photos + "/out-link");
    make_link("../../outside", photos + "/out-dir");
    make_link("1.jpg", photos + "/in-link");
    make_link("../outside", root + "/evil");
    make_file(root + "/file.txt", "a file at the root\n");
    make_file(root + "/42/logs/build.log", "log line\n");
    make_file(root + "/42/logs/nested/more.txt", "more\n");
    make_file(root + "/42/report.html", "<script>alert(1)</script>\n");
    make_file(root + "/42/big.bin", random_body(5000, 3));
    make_link("../../outside", root + "/42/logs/up");
  }
};

// What the readers should see of `folder`: files and folders, no symlinks.
Listing expected_from_disk(const std::string& folder) {
  Listing expected;
  for (const auto& item : std::filesystem::recursive_directory_iterator(folder)) {
    const std::string path = item.path().string();
    const std::string name = item.path().lexically_relative(folder).generic_string();
    struct stat info {};
    REQUIRE(::lstat(path.c_str(), &info) == 0);
    if (S_ISREG(info.st_mode)) {
      const std::string content = read_file(path);
      expected[name] = Seen{sha_hex(content), content.size(), info.st_mode};
    } else if (S_ISDIR(info.st_mode)) {
      expected[name + "/"] = Seen{sha_hex(""), 0, info.st_mode};
    }
  }
  return expected;
}

ProcessResult curl(std::vector<std::string> args) {
  args.insert(args.begin(), {k_curl, "-sS", "--path-as-is"});
  return run_process(args);
}

std::string save(const TempDir& folder, const std::string& name, const std::string& bytes) {
  const std::string path = folder / name;
  write_file(path, bytes);
  return path;
}

} // namespace

TEST_CASE("serve: /archive/<name>/ is the folder as a stored zip; HEAD has the same headers",
          "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const std::string archive = tree.folder / "photos.zip";
  const ProcessResult r =
      curl({"-D", tree.folder / "headers", "-o", archive, service.url("/archive/photos/")});
  INFO(r.err << service.output());
  REQUIRE(r.exit_code == 0);
  check_archive(archive, expected_from_disk(tree.photos));
  CHECK_FALSE(contains(read_file(archive), k_outside_text));

  const RawResponse get = http_request(service.port(), "GET", "/archive/photos/");
  const RawResponse head = http_request(service.port(), "HEAD", "/archive/photos/");
  CHECK(get.status == 200);
  CHECK(get.body == read_file(archive));
  CHECK(get.header("content-type") == "application/zip");
  CHECK(get.header("content-disposition") ==
        "attachment; filename=\"photos.zip\"; filename*=UTF-8''photos.zip");
  CHECK(get.header("content-length") == std::to_string(get.body.size()));
  CHECK(get.header("accept-ranges") == "bytes");
  CHECK(get.header("etag").size() == 34);
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  for (const std::string name :
       {"content-type", "content-disposition", "content-length", "accept-ranges", "etag"}) {
    CHECK(head.header(name) == get.header(name));
  }
  // Without the trailing slash too, and the name is configurable.
  CHECK(http_request(service.port(), "GET", "/archive/photos").body == get.body);
  ServeProcess named(k_exe, {"--root", tree.root, "--archive-name", "{name}-photos.zip"});
  CHECK(http_request(named.port(), "HEAD", "/archive/photos/").header("content-disposition") ==
        "attachment; filename=\"photos-photos.zip\"; filename*=UTF-8''photos-photos.zip");

  // A change to the folder changes the ETag; the same tree keeps it.
  CHECK(http_request(service.port(), "HEAD", "/archive/photos/").header("etag") ==
        get.header("etag"));
  make_file(tree.photos + "/new.txt", "new\n");
  CHECK(http_request(service.port(), "HEAD", "/archive/photos/").header("etag") !=
        get.header("etag"));
  CHECK(service.stop() == 0);
}

TEST_CASE("serve: --help, bad inputs, and a file rewritten under the same size", "[serve]") {
  const ProcessResult help = run_process({k_exe, "serve", "--help"});
  CHECK(help.exit_code == 0);
  for (const std::string part : {"Usage: download-dir-zip serve [options]", "-H, --host",
                                 "-P, --port", "[INPUT_ROOT or PHOTOS_DIR; required]",
                                 "ENABLE_LOGGING", "RESPONSE_DELAY", "--secret", "--sign"}) {
    CHECK(contains(help.out, part));
  }
  CHECK(contains(run_process({k_exe, "--help"}).out, "download-dir-zip serve"));
  const ProcessResult no_root = run_process({k_exe, "serve"});
  CHECK(no_root.exit_code == 2);
  CHECK(
      contains(no_root.out + no_root.err, "--root is required (or set INPUT_ROOT or PHOTOS_DIR)"));
  const ProcessResult bad_root = run_process({k_exe, "serve", "--root", "/nonexistent/x"});
  CHECK(bad_root.exit_code == 2);
  CHECK(contains(bad_root.out + bad_root.err, "--root"));

  // The CRC cache is keyed by size and mtime: new content under the same size is seen.
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  TempDir scratch; // the job queue and store of the run that cannot listen
  const ProcessResult taken =
      run_process({k_exe, "serve", "--root", tree.root, "-P", std::to_string(service.port()),
                   "--db", scratch / "jobs.sqlite", "--store", scratch / "downloads"});
  CHECK(taken.exit_code == 2);
  CHECK(contains(taken.out + taken.err,
                 "cannot listen on 127.0.0.1:" + std::to_string(service.port())));
  const RawResponse before = http_request(service.port(), "GET", "/archive/photos/");
  REQUIRE(before.status == 200);
  make_file(tree.photos + "/2.jpg", random_body(900000, 99));
  const timespec later[2] = {{1800000000, 5}, {1800000000, 5}};
  REQUIRE(::utimensat(AT_FDCWD, (tree.photos + "/2.jpg").c_str(), later, 0) == 0);
  const RawResponse after = http_request(service.port(), "GET", "/archive/photos/");
  REQUIRE(after.status == 200);
  CHECK(after.header("etag") != before.header("etag"));
  CHECK(after.body.size() == before.body.size());
  check_archive(save(tree.folder, "after.zip", after.body), expected_from_disk(tree.photos));
}

TEST_CASE("serve: Range and If-Range answer 206 with the bytes of the full archive", "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse full = http_request(service.port(), "GET", "/archive/photos/");
  REQUIRE(full.status == 200);
  const std::string& bytes = full.body;
  const std::uint64_t n = bytes.size();
  const std::string etag = full.header("etag");
  struct Case {
    std::string range;
    std::uint64_t first, last;
  };
  const std::vector<Case> cases = {
      {"bytes=0-0", 0, 0},
      {"bytes=0-99", 0, 99},
      {"bytes=30-500000", 30, 500000},
      {"bytes=" + std::to_string(n - 100) + "-", n - 100, n - 1},
      {"bytes=-22", n - 22, n - 1},
      {"bytes=5-" + std::to_string(n + 1000), 5, n - 1},
      {"bytes=-" + std::to_string(n + 5), 0, n - 1},
  };
  for (const auto& c : cases) {
    INFO(c.range);
    const RawResponse part =
        http_request(service.port(), "GET", "/archive/photos/", {"Range: " + c.range});
    CHECK(part.status == 206);
    CHECK(part.header("content-range") == "bytes " + std::to_string(c.first) + "-" +
                                              std::to_string(c.last) + "/" + std::to_string(n));
    CHECK(part.body == bytes.substr(c.first, c.last - c.first + 1));
  }
  // Every 64 KiB-aligned window through the archive, joined, is the archive.
  std::string joined;
  for (std::uint64_t at = 0; at < n; at += 65536) {
    const std::uint64_t last = std::min(n - 1, at + 65535);
    joined += http_request(service.port(), "GET", "/archive/photos/",
                           {"Range: bytes=" + std::to_string(at) + "-" + std::to_string(last)})
                  .body;
  }
  CHECK(joined == bytes);
  // If-Range: the same ETag → the range; another → the whole archive.
  const RawResponse same = http_request(service.port(), "GET", "/archive/photos/",
                                        {"Range: bytes=10-19", "If-Range: " + etag});
  CHECK(same.status == 206);
  CHECK(same.body == bytes.substr(10, 10));
  const RawResponse other = http_request(service.port(), "GET", "/archive/photos/",
                                         {"Range: bytes=10-19", "If-Range: \"old\""});
  CHECK(other.status == 200);
  CHECK(other.body == bytes);
  // If-None-Match: 304 without a body.
  const RawResponse cached =
      http_request(service.port(), "GET", "/archive/photos/", {"If-None-Match: " + etag});
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  // HEAD with a Range: the 206 headers only.
  const RawResponse head =
      http_request(service.port(), "HEAD", "/archive/photos/", {"Range: bytes=0-9"});
  CHECK(head.status == 206);
  CHECK(head.header("content-length") == "10");
}

TEST_CASE("serve: bad and unsatisfiable Range headers get 416 with Content-Range */length",
          "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse full = http_request(service.port(), "HEAD", "/archive/photos/");
  const std::string n = full.header("content-length");
  for (const std::string& range : std::vector<std::string>{
           "bytes=abc", "bytes=5-1", "bytes=0-1,5-6", "bytes=-0", "bytes=" + n + "-",
           "bytes=99999999999999999999-", "bytes", "bytes=1-2-3"}) {
    INFO(range);
    const RawResponse r =
        http_request(service.port(), "GET", "/archive/photos/", {"Range: " + range});
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */" + n);
    CHECK_FALSE(contains(r.body, "PK"));
  }
  // Another unit is ignored (RFC 9110 §14.2): the whole archive.
  const RawResponse items =
      http_request(service.port(), "GET", "/archive/photos/", {"Range: items=0-1"});
  CHECK(items.status == 200);
  CHECK(items.header("content-length") == n);
}

TEST_CASE("serve: curl -C - resumes a cut download into a valid zip", "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse full = http_request(service.port(), "GET", "/archive/photos/");
  REQUIRE(full.status == 200);
  for (const std::size_t cut :
       {std::size_t{1}, std::size_t{100}, full.body.size() / 2, full.body.size() - 1}) {
    INFO(cut);
    const std::string archive = save(tree.folder, "resumed.zip", full.body.substr(0, cut));
    const ProcessResult r = curl({"-f", "-C", "-", "-o", archive, service.url("/archive/photos/")});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(archive) == full.body);
  }
  check_archive(tree.folder / "resumed.zip", expected_from_disk(tree.photos));
}

TEST_CASE("serve: hostile requests get their documented status and no byte from outside",
          "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root, "--symlinks", "store"});
  struct Case {
    std::string method, target;
    int status;
  };
  const std::string long_name(300, 'a');
  const std::vector<Case> cases = {
      {"GET", "/archive/../", 400},
      {"GET", "/archive/../outside/", 404}, // three segments: no route
      {"GET", "/archive/..", 400},
      {"GET", "/archive/%2e%2e/", 400},
      {"GET", "/archive/%2E%2E/", 400},
      {"GET", "/archive/..%2F..%2Foutside/", 400},
      {"GET", "/archive/..%2Foutside/", 400},
      {"GET", "/archive/%252e%252e%252Foutside/", 400},
      {"GET", "/archive/%2Fetc/", 400},
      {"GET", "/archive/photos%00/", 400},
      {"GET", "/archive/%5C..%5Coutside/", 400},
      {"GET", "/archive/" + long_name + "/", 400},
      {"GET", "/archive/%zz/", 400},
      {"GET", "/archive/./", 400},
      {"GET", "/archive//", 400},
      {"GET", "/archive//etc/", 404},
      {"GET", "http://127.0.0.1/archive/..%2Foutside/", 400},
      {"GET", "/archive/evil/", 404},     // a symlink out of the root
      {"GET", "/archive/file.txt/", 404}, // a file, not a folder
      {"GET", "/archive/missing/", 404},
      {"GET", "/archive/photos/out-dir/", 404}, // below the name: no route
      {"GET", "/archive/", 404},                // the root itself: never listed
      {"GET", "/archive", 404},
      {"GET", "/", 404},
      {"GET", "/photos/", 404},
      {"GET", "/%61rchive/photos/", 404},
      {"GET", "/archive/photos/?compress=%zz", 400},
      {"GET", "/archive/photos/?compress=bzip2", 400},
      {"HEAD", "/archive/evil/", 404},
      {"HEAD", "/archive/", 404},
      {"POST", "/archive/photos/", 405},
      {"DELETE", "/archive/photos/", 405},
      {"PUT", "/archive/", 404},
      {"OPTIONS", "/archive/photos/", 204},
      {"OPTIONS", "/archive/", 404},
      {"GET", "/v4/builds/../artifacts", 400},
      {"GET", "/v4/builds/42/artifacts/..?type=download&dir=true", 400},
      {"GET", "/v4/builds/42/artifacts/logs/%2E%2E/..?dir=true", 400},
      {"GET", "/v4/builds/42/artifacts/logs%2F..%2F..%2Ffile.txt", 400},
      {"GET", "/v4/builds/42/artifacts/logs/up?type=download&dir=true", 404},
      {"GET", "/v4/builds/42/artifacts/logs/up/secret.txt?type=download", 404},
      {"GET", "/v4/builds/evil/artifacts", 404},
      {"GET", "/v4/builds/evil/artifacts/secret.txt?type=download", 404},
  };
  for (const auto& c : cases) {
    INFO(c.method << " " << c.target);
    const RawResponse r = http_request(service.port(), c.method, c.target);
    CHECK(r.status == c.status);
    CHECK_FALSE(contains(r.body, k_outside_text));
    if (c.status != 200) {
      CHECK_FALSE(contains(r.body, "PK\x03\x04"));
    }
    if (c.status == 405) {
      CHECK(r.header("allow") == "GET, HEAD, OPTIONS");
    }
  }
  const RawResponse options = http_request(service.port(), "OPTIONS", "/archive/photos/");
  CHECK(options.header("allow") == "GET, HEAD, OPTIONS");
  CHECK(options.body.empty());

  // A NUL byte and a bare "..": sent as raw bytes.
  using namespace std::string_literals;
  const std::string nul =
      "GET /archive/ph\0otos/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"s;
  const RawResponse with_nul = raw_exchange(service.port(), nul);
  CHECK((with_nul.status == 400 || with_nul.status == 404));
  CHECK_FALSE(contains(with_nul.body, "PK\x03\x04"));

  // With symlinks stored: in-tree links are links, the ones leading out are left out.
  const RawResponse archive = http_request(service.port(), "GET", "/archive/photos/");
  REQUIRE(archive.status == 200);
  const std::string path = save(tree.folder, "a.zip", archive.body);
  Listing expected = expected_from_disk(tree.photos);
  expected["in-link"] = Seen{sha_hex("1.jpg"), 5, S_IFLNK | 0777};
  check_archive(path, expected);
  CHECK_FALSE(contains(archive.body, k_outside_text));
}

TEST_CASE("serve: a missing folder gets 404 with a short page", "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse r = http_request(service.port(), "GET", "/archive/3bea29ccabbbf64b/");
  CHECK(r.status == 404);
  CHECK(r.header("content-type") == "text/html; charset=utf-8");
  CHECK(contains(r.body, "The archive does not exist or has been deleted."));
  CHECK(r.body.size() < 400);
}

TEST_CASE("serve: signed links: valid, expired, tampered, unsigned; --sign prints one", "[serve]") {
  Tree tree;
  const std::string secret = "s3cret-key";
  ServeProcess service(k_exe, {"--root", tree.root, "--secret", secret, "--log-requests"});
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  const std::string path = "/archive/photos/";
  const std::string valid = shared::server::sign_link(secret, path, now + 600);
  const RawResponse ok = http_request(service.port(), "GET", valid);
  CHECK(ok.status == 200);
  check_archive(save(tree.folder, "signed.zip", ok.body), expected_from_disk(tree.photos));
  CHECK(http_request(service.port(), "GET", valid + "&compress=deflate").status == 200);

  const RawResponse plain = http_request(service.port(), "GET", path);
  CHECK(plain.status == 403);
  CHECK(contains(plain.body, "needs a signature"));
  const RawResponse expired =
      http_request(service.port(), "GET", shared::server::sign_link(secret, path, now - 1));
  CHECK(expired.status == 403);
  CHECK(contains(expired.body, "expired"));
  std::string tampered = valid;
  tampered.replace(tampered.find("photos"), 6, "42");
  CHECK(http_request(service.port(), "GET", tampered).status == 403);
  const std::string later = std::to_string(now + 99999);
  std::string longer = valid;
  longer.replace(longer.find("expires=") + 8, later.size(), later);
  CHECK(http_request(service.port(), "GET", longer).status == 403);
  CHECK(http_request(service.port(), "GET", shared::server::sign_link("wrong", path, now + 600))
            .status == 403);
  // The v4 routes want signed links too.
  CHECK(http_request(service.port(), "GET", "/v4/builds/42/artifacts").status == 403);

  // --sign prints a link the service takes; the log masks signatures and the secret.
  const ProcessResult printed =
      run_process({k_exe, "serve", "--root", tree.root, "--secret", secret, "--sign", path});
  REQUIRE(printed.exit_code == 0);
  const std::string link = printed.out.substr(0, printed.out.find('\n'));
  CHECK(http_request(service.port(), "HEAD", link).status == 200);
  CHECK(service.wait_for_output("signature=***"));
  CHECK_FALSE(contains(service.output(), shared::server::link_signature(secret, path, now + 600)));
  CHECK_FALSE(contains(service.output(), secret));
}

TEST_CASE(
    "serve: build-artifact routes: dir=true zips, all artifacts, one file, 413 over the limit",
    "[serve]") {
  Tree tree;
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse folder =
      http_request(service.port(), "GET", "/v4/builds/42/artifacts/logs?type=download&dir=true");
  REQUIRE(folder.status == 200);
  CHECK(folder.header("content-disposition") ==
        "attachment; filename=\"logs_dir.zip\"; filename*=UTF-8''logs_dir.zip");
  check_archive(save(tree.folder, "logs.zip", folder.body),
                expected_from_disk(tree.root + "/42/logs"));
  const RawResponse nested = http_request(
      service.port(), "GET", "/v4/builds/42/artifacts/logs/nested/?type=download&dir=true");
  CHECK(nested.status == 200);
  check_archive(save(tree.folder, "nested.zip", nested.body),
                expected_from_disk(tree.root + "/42/logs/nested"));

  const RawResponse all = http_request(service.port(), "GET", "/v4/builds/42/artifacts");
  REQUIRE(all.status == 200);
  CHECK(contains(all.header("content-disposition"), "filename=\"42_artifacts.zip\""));
  check_archive(save(tree.folder, "all.zip", all.body), expected_from_disk(tree.root + "/42"));

  const RawResponse file =
      http_request(service.port(), "GET", "/v4/builds/42/artifacts/logs/build.log?type=download");
  CHECK(file.status == 200);
  CHECK(file.body == "log line\n");
  CHECK(contains(file.header("content-disposition"), "attachment; filename=\"build.log\""));
  CHECK(file.header("content-type") == "text/plain; charset=utf-8");
  const RawResponse preview =
      http_request(service.port(), "GET", "/v4/builds/42/artifacts/report.html?type=preview");
  CHECK(preview.status == 200);
  CHECK(contains(preview.header("content-disposition"), "inline;"));
  CHECK(preview.header("content-type") == "text/plain; charset=utf-8"); // never run as HTML
  CHECK(preview.header("content-security-policy") == "sandbox");
  const RawResponse part = http_request(
      service.port(), "GET", "/v4/builds/42/artifacts/big.bin?type=download", {"Range: bytes=-10"});
  CHECK(part.status == 206);
  CHECK(part.body == random_body(5000, 3).substr(4990));
  CHECK(http_request(service.port(), "GET", "/v4/builds/42/artifacts/logs?type=download").status ==
        404); // a folder without dir=true
  CHECK(http_request(service.port(), "GET", "/v4/builds/42/artifacts/x?type=bogus").status == 400);
  CHECK(http_request(service.port(), "GET", "/v4/builds/7/artifacts").status == 404);

  // Over the limit: 413 with a JSON error, before any byte of the archive.
  ServeProcess limited(k_exe, {"--root", tree.root, "--max-download-size", "1000"});
  const RawResponse big = http_request(limited.port(), "GET",
                                       "/v4/builds/42/artifacts/logs/../?type=download&dir=true");
  CHECK(big.status == 400);
  const RawResponse too_large = http_request(limited.port(), "GET", "/v4/builds/42/artifacts");
  CHECK(too_large.status == 413);
  CHECK(too_large.header("content-type") == "application/json");
  CHECK(contains(too_large.body, "\"limit\":1000"));
  CHECK(contains(too_large.body, "\"size\":5040"));
  CHECK_FALSE(contains(too_large.body, "PK"));
  const RawResponse file_too_large =
      http_request(limited.port(), "GET", "/v4/builds/42/artifacts/big.bin?type=download");
  CHECK(file_too_large.status == 413);
  CHECK(contains(file_too_large.body, "\"size\":5000"));
  CHECK(http_request(limited.port(), "GET", "/v4/builds/42/artifacts/logs?dir=true").status == 200);
  // /archive/ has no size limit.
  CHECK(http_request(limited.port(), "GET", "/archive/photos/").status == 200);
}

TEST_CASE("serve: PHOTOS_DIR and ENABLE_LOGGING from the environment, one log line per request",
          "[serve]") {
  Tree tree;
  ProcessOptions env;
  env.set_env = {{"PHOTOS_DIR", tree.root}, {"ENABLE_LOGGING", "true"}};
  ServeProcess service(k_exe, {}, env);
  const RawResponse r = http_request(service.port(), "GET", "/archive/photos/?x=1");
  REQUIRE(r.status == 200);
  http_request(service.port(), "GET", "/archive/nothing/");
  REQUIRE(service.wait_for_output("/archive/nothing/"));
  const std::string log = service.output();
  INFO(log);
  const std::regex line("GET /archive/photos/\\?x=1 200 " + std::to_string(r.body.size()) +
                        " bytes [0-9]+\\.[0-9]{3} s 127\\.0\\.0\\.1:[0-9]+");
  CHECK(std::regex_search(log, line));
  CHECK(std::regex_search(log, std::regex("GET /archive/nothing/ 404 [0-9]+ bytes ")));
}

TEST_CASE("serve: ?compress=deflate streams a deflated archive, chunked, without ranges",
          "[serve]") {
  Tree tree;
  make_file(tree.photos + "/text.txt", std::string(300000, 'z'));
  ServeProcess service(k_exe, {"--root", tree.root});
  const RawResponse r = http_request(service.port(), "GET", "/archive/photos/?compress=deflate",
                                     {"Range: bytes=0-9"});
  REQUIRE(r.status == 200);
  CHECK(r.header("transfer-encoding") == "chunked");
  CHECK(r.header("content-length").empty());
  CHECK(r.header("accept-ranges") == "none");
  const std::string archive = save(tree.folder, "deflated.zip", r.body);
  check_archive(archive, expected_from_disk(tree.photos));
  const RawResponse stored = http_request(service.port(), "HEAD", "/archive/photos/");
  CHECK(r.body.size() + 250000 < std::stoull(stored.header("content-length")));
  const RawResponse head =
      http_request(service.port(), "HEAD", "/archive/photos/?compress=deflate");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
}

TEST_CASE("serve: a client that goes away stops its answer within a block; SIGTERM stops",
          "[serve]") {
  Tree tree;
  make_file(tree.photos + "/large.bin", random_body(16 << 20, 4));
  ProcessOptions env;
  env.set_env = {{"ENABLE_RESPONSE_DELAY", "1"}, {"RESPONSE_DELAY", "0.2"}};
  ServeProcess service(k_exe, {"--root", tree.root, "--log-requests"}, env);
  {
    Poco::Net::StreamSocket socket;
    socket.connect(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(service.port())));
    const std::string request = "GET /archive/photos/ HTTP/1.1\r\nHost: x\r\n\r\n";
    socket.sendBytes(request.data(), static_cast<int>(request.size()));
    char buffer[4096];
    REQUIRE(socket.receiveBytes(buffer, sizeof buffer) > 0);
  } // closed after the first block
  REQUIRE(service.wait_for_output("(client went away)", 20));
  const std::string log = service.output();
  INFO(log);
  std::smatch match;
  REQUIRE(std::regex_search(log, match, std::regex("GET /archive/photos/ 200 ([0-9]+) bytes")));
  CHECK(std::stoull(match[1].str()) <= 3u * 256 * 1024); // at most a few blocks of 16 MiB
  // A stop while an answer is being throttled ends it and exits 0.
  std::thread slow([&] { http_request(service.port(), "GET", "/archive/photos/"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(service.stop() == 0);
  slow.join();
}

TEST_CASE("serve: 50 concurrent downloads of a 200 MiB folder complete and verify",
          "[serve][long]") {
  TempDir folder;
  const std::string root = folder / "root";
  for (int i = 0; i < 20; ++i) {
    make_file(root + "/big/file-" + std::to_string(i) + ".bin", random_body(10 << 20, 10 + i));
  }
  ServeProcess service(k_exe, {"--root", root});
  const RawResponse first = http_request(service.port(), "GET", "/archive/big/");
  REQUIRE(first.status == 200);
  check_archive(save(folder, "big.zip", first.body), expected_from_disk(root + "/big"));
  const std::string digest = sha_hex(first.body);
  const std::uint64_t length = first.body.size();

  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 50; ++c) {
    clients.emplace_back([&] {
      try {
        Poco::Net::StreamSocket socket;
        socket.connect(
            Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(service.port())));
        socket.setReceiveTimeout(Poco::Timespan(120, 0));
        const std::string request =
            "GET /archive/big/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        socket.sendBytes(request.data(), static_cast<int>(request.size()));
        std::string head;
        std::vector<char> buffer(1 << 20);
        shared::hash::Sha256 sha;
        std::uint64_t body = 0;
        bool in_body = false;
        for (int n;
             (n = socket.receiveBytes(buffer.data(), static_cast<int>(buffer.size()))) > 0;) {
          if (in_body) {
            sha.update(buffer.data(), static_cast<std::size_t>(n));
            body += static_cast<std::uint64_t>(n);
            continue;
          }
          head.append(buffer.data(), static_cast<std::size_t>(n));
          const auto end = head.find("\r\n\r\n");
          if (end != std::string::npos) {
            in_body = true;
            sha.update(head.data() + end + 4, head.size() - end - 4);
            body = head.size() - end - 4;
          }
        }
        if (body == length && shared::hash::to_hex(sha.finish(), false) == digest) {
          ++good;
        }
      } catch (const std::exception&) {
      }
    });
  }
  for (auto& t : clients) {
    t.join();
  }
  CHECK(good == 50);
  const ProcessUsage usage = process_usage(service.pid());
  WARN("service peak RSS after 50 clients: " << usage.peak / (1024 * 1024) << " MiB");
}

TEST_CASE("serve: 200 clients that go away midway leave no threads, descriptors or memory",
          "[serve][long]") {
  TempDir folder;
  const std::string root = folder / "root";
  for (int i = 0; i < 4; ++i) {
    make_file(root + "/big/file-" + std::to_string(i) + ".bin", random_body(8 << 20, 30 + i));
  }
  // Under AddressSanitizer, freed blocks wait in its quarantine (RSS that is no leak): none.
  ProcessOptions env;
  const char* asan = std::getenv("ASAN_OPTIONS");
  env.set_env["ASAN_OPTIONS"] = std::string(asan != nullptr ? asan : "") +
                                ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0";
  ServeProcess service(k_exe, {"--root", root, "--threads", "16"}, env);
  const ProcessUsage idle = process_usage(service.pid());
  const auto cut_short = [&](int clients) {
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        try {
          Poco::Net::StreamSocket socket;
          socket.connect(
              Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(service.port())));
          const std::string request =
              c % 2 == 0 ? "GET /archive/big/ HTTP/1.1\r\nHost: x\r\n\r\n"
                         : "GET /archive/big/ HTTP/1.1\r\nHost: x\r\nRange: bytes=1000-\r\n\r\n";
          socket.sendBytes(request.data(), static_cast<int>(request.size()));
          std::vector<char> buffer(64 * 1024);
          std::size_t got = 0;
          const std::size_t want = 1024 * (1 + static_cast<std::size_t>(c) * 37 % 4096);
          for (int n; got < want && (n = socket.receiveBytes(
                                         buffer.data(), static_cast<int>(buffer.size()))) > 0;) {
            got += static_cast<std::size_t>(n);
          }
        } catch (const std::exception&) {
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
  };
  // Warm up: the pool's threads, the CRC cache and the allocator's arenas exist already.
  cut_short(32);
  const auto settle = [&](int descriptors) {
    for (int i = 0; i < 500 && process_usage(service.pid()).descriptors > descriptors; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const ProcessUsage before = process_usage(service.pid());
  for (int round = 0; round < 8; ++round) {
    cut_short(25);
  }
  settle(before.descriptors);
  const ProcessUsage after = process_usage(service.pid());
  INFO("threads " << before.threads << " -> " << after.threads << ", descriptors "
                  << before.descriptors << " -> " << after.descriptors << ", RSS "
                  << before.rss / 1024 << " -> " << after.rss / 1024 << " KiB");
  // The pool keeps idle threads for a while and may still grow to its 16: more than that
  // would be threads left behind.
  CHECK(after.threads <= std::max(before.threads, idle.threads + 16));
  CHECK(after.descriptors <= before.descriptors);
  CHECK(after.rss <= before.rss + 8 * 1024 * 1024);
  // Still answering.
  CHECK(http_request(service.port(), "HEAD", "/archive/big/").status == 200);
}
