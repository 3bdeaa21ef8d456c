// download-artifact, the executable, against real servers: Debian's nginx for the listings
// and the bytes, our FaultServer (tests/support/fault_server.hpp) for every fault the HTTP
// layer must survive, and plain folders for the file share source.
#include "shared/hash/sha256.hpp"
#include "shared/metadata/metadata_csv.hpp"
#include "tests/support/fault_server.hpp"
#include "tests/support/nginx_server.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <unistd.h>
#include <vector>

using namespace tests::support;
using Fault = FaultReply::Fault;

namespace {

const std::string k_download = DOWNLOAD_ARTIFACT_EXE;
const std::string k_generate = GENERATE_METADATA_EXE;

// Fast retries so fault tests take milliseconds, not the default seconds.
const std::vector<std::string> k_fast_retries = {
    "--retries", "3", "--retry-delay", "0.01", "--retry-max-delay", "0.05"};

ProcessResult download(std::vector<std::string> args, ProcessOptions options = {}) {
  args.insert(args.begin(), k_download);
  return run_process(args, options);
}

ProcessResult download_fast(const std::string& source, const std::string& destination,
                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {source, "--destination", destination};
  args.insert(args.end(), k_fast_retries.begin(), k_fast_retries.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return download(args);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Every regular file under `root`, by relative path, with its content.
std::map<std::string, std::string> tree(const std::string& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) {
      files[std::filesystem::relative(entry.path(), root).string()] =
          read_file(entry.path().string());
    }
  }
  return files;
}

std::vector<std::string> make_hostile_tree(const std::string& root) {
  const std::vector<std::string> names = {"plain.txt",
                                          "comma,name.txt",
                                          "quote\"name.txt",
                                          "spaces in name",
                                          "-rf",
                                          "percent%41.txt",
                                          "q?mark#hash.txt",
                                          "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5.bin",
                                          "deep/a/b/c.txt",
                                          "empty-file",
                                          "dir with space/x,y\"z"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    std::string content = names[i] == "empty-file" ? "" : "content of " + names[i];
    content.append(i * 50000, static_cast<char>('a' + i));
    write_file(root + "/" + names[i], content);
  }
  return names;
}

// A FaultServer route table with artifact-metadata.csv listing `files` (path → content).
void serve_artifact(FaultServer& server, const std::map<std::string, std::string>& files) {
  std::vector<shared::metadata::Entry> entries;
  for (const auto& [path, content] : files) {
    entries.push_back({path, shared::hash::sha256(content)});
  }
  server.serve("/artifact-metadata.csv", shared::metadata::to_csv(entries));
}

FaultReply reply(std::string body, Fault fault = Fault::none, int status = 200) {
  FaultReply r;
  r.body = std::move(body);
  r.fault = fault;
  r.status = status;
  return r;
}

} // namespace

TEST_CASE("file share: a folder or file:// URL, hostile names, empty folders",
          "[download-artifact]") {
  TempDir folder;
  const auto names = make_hostile_tree(folder / "drop");
  std::filesystem::create_directories(folder / "drop/empty/inner");
  SECTION("path") {
    const ProcessResult r = download_fast(folder / "drop", folder / "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(tree(folder / "out") == tree(folder / "drop"));
    CHECK(std::filesystem::is_directory(folder / "out/empty/inner"));
    CHECK(contains(r.out, "Downloaded 11 files"));
  }
  SECTION("file:// URL with percent escapes, and metadata hashes") {
    std::filesystem::rename(folder / "drop", folder / "my drop");
    REQUIRE(run_process({k_generate, folder / "my drop"}).exit_code == 0);
    const ProcessResult r = download_fast("file://" + (folder / "my%20drop"), folder / "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "with SHA-256"));
    CHECK(tree(folder / "out") == tree(folder / "my drop"));
  }
}

TEST_CASE("nginx: listed by artifact-metadata.csv, by JSON index, by HTML index",
          "[download-artifact]") {
  TempDir folder;
  make_hostile_tree(folder / "www/artifact");
  std::filesystem::create_directories(folder / "www/artifact/empty-folder");
  SECTION("JSON autoindex, empty folders created") {
    NginxServer nginx(folder / "www");
    const ProcessResult r = download_fast(nginx.url("/artifact/"), folder / "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "nginx JSON index"));
    CHECK(tree(folder / "out") == tree(folder / "www/artifact"));
    CHECK(std::filesystem::is_directory(folder / "out/empty-folder"));
  }
  SECTION("HTML autoindex") {
    NginxOptions options;
    options.autoindex_format = AutoindexFormat::html;
    NginxServer nginx(folder / "www", options);
    const ProcessResult r = download_fast(nginx.url("/artifact"), folder / "out");
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "HTML index"));
    CHECK(tree(folder / "out") == tree(folder / "www/artifact"));
  }
  SECTION("artifact-metadata.csv: hashes checked, the CSV itself downloaded") {
    REQUIRE(run_process({k_generate, folder / "www/artifact"}).exit_code == 0);
    NginxServer nginx(folder / "www");
    const ProcessResult r =
        download_fast(nginx.url("/artifact/"), folder / "out", {"--parallel", "3"});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(contains(r.out, "(artifact-metadata.csv, with SHA-256)"));
    CHECK(tree(folder / "out") == tree(folder / "www/artifact"));
  }
  SECTION("itemPattern selects, ! excludes") {
    NginxServer nginx(folder / "www");
    const ProcessResult r =
        download_fast(nginx.url("/artifact/"), folder / "out",
                      {"--item-pattern", "**/*.txt", "--item-pattern", "!deep/**"});
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> got;
    for (const auto& [path, content] : tree(folder / "out")) {
      got.push_back(path);
    }
    CHECK(got == std::vector<std::string>{"comma,name.txt", "percent%41.txt", "plain.txt",
                                          "q?mark#hash.txt", "quote\"name.txt"});
  }
  SECTION("a missing artifact: a clear error saying what was tried") {
    NginxServer nginx(folder / "www");
    const ProcessResult r = download_fast(nginx.url("/nothing/"), folder / "out");
    CHECK(r.exit_code == 3);
    CHECK(contains(r.err, "cannot list"));
    CHECK(contains(r.err, "artifact-metadata.csv: 404"));
    CHECK(contains(r.err, "the index page"));
  }
}

TEST_CASE("faults: retried, counted, and the bytes still right", "[download-artifact]") {
  TempDir folder;
  FaultServer server;
  const std::string good = std::string(300000, 'g') + "end";
  serve_artifact(server, {{"f.bin", good}});
  auto run = [&](std::vector<std::string> extra = {}) {
    return download_fast(server.url("/"), folder / "out", extra);
  };
  auto check_ok = [&](const ProcessResult& r, std::size_t requests) {
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(folder / "out/f.bin") == good);
    CHECK(server.request_count("/f.bin") == requests);
    CHECK_FALSE(exists(folder / "out/f.bin.part"));
  };

  SECTION("503 then 200") {
    server.on("/f.bin", {reply("busy", Fault::none, 503), reply(good)});
    const ProcessResult r = run();
    check_ok(r, 2);
    CHECK(contains(r.out, "retry 1/3"));
    CHECK(contains(r.out, "503 Service Unavailable"));
  }
  SECTION("429 with Retry-After in seconds is honoured") {
    FaultReply limited = reply("slow down", Fault::none, 429);
    limited.headers = {{"Retry-After", "1"}};
    server.on("/f.bin", {limited, reply(good)});
    const auto start = std::chrono::steady_clock::now();
    const ProcessResult r = run();
    check_ok(r, 2);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(950));
  }
  SECTION("429 with Retry-After as an HTTP-date is honoured") {
    char date[64];
    const std::time_t when = std::time(nullptr) + 2;
    std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", std::gmtime(&when));
    FaultReply limited = reply("slow down", Fault::none, 429);
    limited.headers = {{"Retry-After", date}};
    server.on("/f.bin", {limited, reply(good)});
    const auto start = std::chrono::steady_clock::now();
    check_ok(run(), 2);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(900));
  }
  SECTION("Retry-After is capped by maxRetryWait") {
    FaultReply limited = reply("later", Fault::none, 503);
    limited.headers = {{"Retry-After", "3600"}};
    server.on("/f.bin", {limited, reply(good)});
    const auto start = std::chrono::steady_clock::now();
    check_ok(run({"--max-retry-wait", "0.2"}), 2);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  }
  SECTION("500 forever: that item fails, the others succeed, exit status 1") {
    serve_artifact(server, {{"f.bin", good}, {"other.txt", "fine"}});
    server.serve("/other.txt", "fine");
    server.on("/f.bin", {reply("boom", Fault::none, 500)});
    const ProcessResult r = run();
    CHECK(r.exit_code == 1);
    CHECK(server.request_count("/f.bin") == 4); // 1 + 3 retries
    CHECK(read_file(folder / "out/other.txt") == "fine");
    CHECK_FALSE(exists(folder / "out/f.bin"));
    CHECK_FALSE(exists(folder / "out/f.bin.part"));
    CHECK(contains(r.err, "f.bin: GET " + server.url("/f.bin") + ": 500"));
    CHECK(contains(r.out, "1 failed"));
  }
  SECTION("connection reset mid-body") {
    server.on("/f.bin", {reply(good, Fault::reset_mid_body), reply(good)});
    check_ok(run(), 2);
  }
  SECTION("body shorter than its Content-Length") {
    server.on("/f.bin", {reply(good, Fault::short_body), reply(good)});
    const ProcessResult r = run();
    check_ok(r, 2);
    CHECK(contains(r.out, "Content-Length"));
  }
  SECTION("gzip body inflated as it streams; a broken gzip stream retried") {
    server.on("/f.bin", {reply(good, Fault::broken_gzip), reply(good, Fault::gzip)});
    const ProcessResult r = run();
    check_ok(r, 2);
    CHECK(contains(r.out, "broken gzip stream"));
    CHECK(server.requests().back().headers.at("accept-encoding") == "gzip");
  }
  SECTION("chunked bodies; one cut before its last chunk is retried, not accepted") {
    server.on("/f.bin", {reply(good, Fault::chunked)});
    check_ok(run(), 1);
    server.on("/f.bin", {reply(good, Fault::chunked_truncated), reply(good, Fault::chunked)});
    const ProcessResult r =
        download_fast(server.url("/"), folder / "again", {"--item-pattern", "f.bin"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(read_file(folder / "again/f.bin") == good);
    CHECK(contains(r.out, "chunked body ended before its last chunk"));
  }
  SECTION("a keep-alive connection the server closed gets a fresh try, not a retry") {
    serve_artifact(server, {{"f.bin", good}, {"g.bin", "g"}});
    server.on("/f.bin", {reply(good, Fault::drop_keep_alive)});
    server.serve("/g.bin", "g");
    const ProcessResult r = download(
        {server.url("/"), "--destination", folder / "out", "--retries", "0", "--parallel", "1"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(read_file(folder / "out/g.bin") == "g");
    CHECK(contains(r.out, "0 retries"));
  }
  SECTION("wrong bytes: the hash mismatch deletes the file and fetches again") {
    std::string bad = good;
    bad[1000] = 'X';
    server.on("/f.bin", {reply(bad), reply(good)});
    const ProcessResult r = run();
    check_ok(r, 2);
    CHECK(contains(r.out, "SHA-256 mismatch"));
  }
  SECTION("wrong bytes forever: integrity exit status, nothing under the final name") {
    server.on("/f.bin", {reply("not the content")});
    const ProcessResult r = run();
    CHECK(r.exit_code == 4);
    CHECK_FALSE(exists(folder / "out/f.bin"));
    CHECK_FALSE(exists(folder / "out/f.bin.part"));
  }
  SECTION("a chain of redirects is followed; more than 10 is an error") {
    server.redirect("/f.bin", "/hop1", 301);
    server.redirect("/hop1", server.url("/hop2"), 307);
    server.redirect("/hop2", "/final", 302);
    server.serve("/final", good);
    const ProcessResult r = run();
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(read_file(folder / "out/f.bin") == good);
    for (int i = 0; i < 12; ++i) {
      server.redirect("/loop" + std::to_string(i), "/loop" + std::to_string(i + 1));
    }
    server.redirect("/f.bin", "/loop0");
    const ProcessResult loop = download_fast(server.url("/"), folder / "out2");
    CHECK(loop.exit_code == 1);
    CHECK(contains(loop.err, "more than 10 redirects"));
  }
  SECTION("a slow drip past readTimeout is cut and retried") {
    FaultReply drip = reply(good, Fault::drip);
    drip.drip_interval_ms = 1500;
    server.on("/f.bin", {drip, reply(good)});
    const ProcessResult r = run({"--read-timeout", "0.3"});
    check_ok(r, 2);
    CHECK(contains(r.out, "retry 1/3"));
  }
  SECTION("404 fails at once, naming status and URL") {
    server.on("/f.bin", {reply("gone", Fault::none, 404)});
    const ProcessResult r = run();
    CHECK(r.exit_code == 1);
    CHECK(server.request_count("/f.bin") == 1);
    CHECK(contains(r.err, "404 Not Found"));
  }
  SECTION("keep-alive: one connection per worker, reused across items") {
    std::map<std::string, std::string> files;
    for (int i = 0; i < 30; ++i) {
      files["file" + std::to_string(i)] = "content " + std::to_string(i);
      server.serve("/file" + std::to_string(i), files["file" + std::to_string(i)]);
    }
    serve_artifact(server, files);
    const ProcessResult r = run({"--parallel", "2"});
    REQUIRE(r.exit_code == 0);
    CHECK(server.connection_count() <= 3); // the listing's and one per worker
  }
}

TEST_CASE("authentication: Bearer token sent, masked, and dropped on another origin",
          "[download-artifact]") {
  TempDir folder;
  FaultServer store;
  FaultServer elsewhere;
  serve_artifact(store, {{"a.txt", "A"}, {"b.txt", "B"}});
  store.serve("/a.txt", "A");
  store.redirect("/b.txt", elsewhere.url("/b.txt")); // same host, another port: another origin
  elsewhere.serve("/b.txt", "B");
  ProcessOptions github;
  github.set_env = {{"GITHUB_ACTIONS", "true"}};
  const ProcessResult r = download(
      {store.url("/"), "--destination", folder / "out", "--token", "s3cr3t-t0ken", "--verbose"},
      github);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  for (const auto& request : store.requests()) {
    CHECK(request.headers.at("authorization") == "Bearer s3cr3t-t0ken");
    CHECK(request.headers.at("user-agent") == "artifact-tasks/0.1.0");
  }
  REQUIRE(elsewhere.requests().size() == 1);
  CHECK(elsewhere.requests()[0].headers.count("authorization") == 0);
  std::string shown = r.out + r.err;
  shown.erase(shown.find("::add-mask::s3cr3t-t0ken\n"),
              std::string("::add-mask::s3cr3t-t0ken\n").size());
  CHECK_FALSE(contains(shown, "s3cr3t-t0ken"));
  CHECK(contains(shown, "token = ***"));
}

TEST_CASE("traversal attempts in a listing and in the CSV are refused", "[download-artifact]") {
  TempDir folder;
  FaultServer server;
  SECTION("in a JSON listing") {
    FaultReply index = reply(
        R"([{"name":"../x","type":"file","size":1},{"name":"/etc/x","type":"file","size":1},)"
        R"({"name":"a/../../x","type":"file","size":1},{"name":"C:\\x","type":"file","size":1},)"
        R"({"name":"ok","type":"file","size":2}])");
    index.headers = {{"Content-Type", "application/json"}};
    server.on("/", {index});
    server.serve("/ok", "ok");
    const ProcessResult r = download_fast(server.url("/"), folder / "dest/out");
    INFO(r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(read_file(folder / "dest/out/ok") == "ok");
    CHECK(contains(r.err, "../x: refused"));
    CHECK(contains(r.err, "/etc/x: refused"));
    CHECK(contains(r.err, "a/../../x: refused"));
    CHECK(contains(r.err, "C:\\x: refused"));
    CHECK_FALSE(exists(folder / "dest/x"));
    CHECK_FALSE(exists(folder / "x"));
    CHECK(server.request_count("/x") == 0);
  }
  SECTION(
      "in artifact-metadata.csv: the file is rejected with its line, nothing is fetched by it") {
    const std::string h = shared::hash::to_hex(shared::hash::sha256("x"));
    for (const std::string bad : {"../x", "/etc/x", "a/../../x", "C:\\x"}) {
      server.serve("/artifact-metadata.csv", "ok," + h + "\n" + bad + "," + h + "\n");
      const ProcessResult r = download_fast(server.url("/"), folder / "out");
      CHECK(r.exit_code == 3); // no index to fall back on
      CHECK(contains(r.err, "artifact-metadata.csv line 2: "));
      CHECK_FALSE(exists(folder / "x"));
    }
  }
  SECTION("through a symlink already in the destination") {
    std::filesystem::create_directories(folder / "out");
    std::filesystem::create_directories(folder / "outside");
    REQUIRE(::symlink((folder / "outside").c_str(), (folder / "out/link").c_str()) == 0);
    serve_artifact(server, {{"link/evil", "evil"}, {"fine", "fine"}});
    server.serve("/link/evil", "evil");
    server.serve("/fine", "fine");
    const ProcessResult r = download_fast(server.url("/"), folder / "out");
    CHECK(r.exit_code == 1);
    CHECK(contains(r.err, "link/evil: refused"));
    CHECK_FALSE(exists(folder / "outside/evil"));
    CHECK(read_file(folder / "out/fine") == "fine");
  }
}

TEST_CASE("SIGKILL midway: no final name ever holds partial content; a rerun completes",
          "[download-artifact]") {
  TempDir folder;
  std::string big(24 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); i += 4096) {
    big[i] = static_cast<char>(i / 4096);
  }
  for (int i = 0; i < 6; ++i) {
    write_file(folder / ("www/f" + std::to_string(i)), big + std::to_string(i));
  }
  REQUIRE(run_process({k_generate, folder / "www"}).exit_code == 0);
  NginxServer nginx(folder / "www");
  for (int delay_ms : {60, 150, 300}) {
    ProcessOptions kill;
    kill.signal = SIGKILL;
    kill.signal_after_ms = delay_ms;
    download({nginx.url("/"), "--destination", folder / "out", "--parallel", "3", "--quiet"}, kill);
    if (!exists(folder / "out")) {
      continue;
    }
    for (const auto& [path, content] : tree(folder / "out")) {
      if (path.size() > 5 && path.compare(path.size() - 5, 5, ".part") == 0) {
        continue;
      }
      INFO(path << " after SIGKILL at " << delay_ms << " ms");
      CHECK(content == read_file(folder / ("www/" + path)));
    }
  }
  const ProcessResult rerun =
      download({nginx.url("/"), "--destination", folder / "out", "--quiet"});
  REQUIRE(rerun.exit_code == 0);
  auto got = tree(folder / "out");
  CHECK(got == tree(folder / "www"));
}

TEST_CASE("an item named like another item's part file is refused", "[download-artifact]") {
  TempDir folder;
  write_file(folder / "src/x", "small");
  write_file(folder / "src/x.part", std::string(100000, 'p'));
  const ProcessResult r = download_fast(folder / "src", folder / "out");
  CHECK(r.exit_code == 1);
  CHECK(contains(r.err, "x.part: refused: x.part is the part-file name of x"));
  CHECK(read_file(folder / "out/x") == "small");
  CHECK_FALSE(exists(folder / "out/x.part"));
}

TEST_CASE("bad input: clear errors and exit status 2", "[download-artifact]") {
  TempDir folder;
  CHECK(download({}).exit_code == 2);
  const ProcessResult missing = download({folder / "nope"});
  CHECK(missing.exit_code == 2);
  CHECK(contains(missing.err, "--source: \"" + (folder / "nope") + "\" does not exist"));
  const ProcessResult scheme = download({"ftp://h/x"});
  CHECK(scheme.exit_code == 2);
  CHECK(contains(scheme.err, "unsupported URL scheme \"ftp\""));
  const ProcessResult pattern = download({folder.path(), "--item-pattern", "{a,b"});
  CHECK(pattern.exit_code == 2);
  CHECK(contains(pattern.err, "--item-pattern: unbalanced"));
  const ProcessResult both = download({folder.path(), "--token", "t", "--username", "u"});
  CHECK(both.exit_code == 2);
}

TEST_CASE("cleanDestination empties a large tree (on several threads), removing symlinks "
          "without following them",
          "[download-artifact]") {
  TempDir folder;
  write_file(folder / "src/a", "a");
  write_file(folder / "outside/keep", "not the destination's");
  for (int d = 0; d < 12; ++d) {
    for (int f = 0; f < 30; ++f) {
      write_file(folder / ("out/d" + std::to_string(d) + "/sub/f" + std::to_string(f)), "old");
    }
  }
  write_file(folder / "out/stale", "old");
  REQUIRE(::symlink((folder / "outside").c_str(), (folder / "out/link").c_str()) == 0);
  const ProcessResult r = download_fast(folder / "src", folder / "out", {"--clean-destination"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> left;
  for (const auto& entry : std::filesystem::directory_iterator(folder / "out")) {
    left.push_back(entry.path().filename().string());
  }
  CHECK(left == std::vector<std::string>{"a"});
  CHECK(read_file(folder / "outside/keep") == "not the destination's");
}

TEST_CASE("cleanDestination empties the folder first; failFast stops early",
          "[download-artifact]") {
  TempDir folder;
  write_file(folder / "src/a", "a");
  write_file(folder / "out/stale", "old");
  REQUIRE(download_fast(folder / "src", folder / "out", {"--clean-destination"}).exit_code == 0);
  CHECK_FALSE(exists(folder / "out/stale"));
  CHECK(read_file(folder / "out/a") == "a");

  FaultServer server;
  std::map<std::string, std::string> files;
  for (int i = 0; i < 20; ++i) {
    files["f" + std::to_string(i)] = "x";
  }
  serve_artifact(server, files); // none of the files is served: every item 404s
  const ProcessResult r =
      download_fast(server.url("/"), folder / "ff", {"--fail-fast", "--parallel", "1"});
  CHECK(r.exit_code == 1);
  CHECK(contains(r.out, "1 failed"));
  CHECK(contains(r.out, "not attempted (failFast)"));
}

TEST_CASE("HTTPS: verified against caFile, refused without it, --insecure warns",
          "[download-artifact]") {
  TempDir folder;
  write_file(folder / "www/a.txt", "over tls");
  // A self-signed certificate for 127.0.0.1, made by the openssl command line tool.
  const ProcessResult made =
      run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                   folder / "key.pem", "-out", folder / "cert.pem", "-days", "2", "-subj",
                   "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"});
  REQUIRE(made.exit_code == 0);
  NginxOptions options;
  options.tls_certificate = folder / "cert.pem";
  options.tls_key = folder / "key.pem";
  NginxServer nginx(folder / "www", options);
  REQUIRE(nginx.url().rfind("https://", 0) == 0);

  const ProcessResult trusted =
      download_fast(nginx.url("/"), folder / "ok", {"--ca-file", folder / "cert.pem"});
  INFO(trusted.out << trusted.err);
  CHECK(trusted.exit_code == 0);
  CHECK(read_file(folder / "ok/a.txt") == "over tls");

  const ProcessResult untrusted = download_fast(nginx.url("/"), folder / "no");
  CHECK(untrusted.exit_code == 3);
  CHECK(contains(untrusted.err, "TLS"));
  CHECK_FALSE(exists(folder / "no/a.txt"));

  const ProcessResult insecure = download_fast(nginx.url("/"), folder / "insecure", {"--insecure"});
  CHECK(insecure.exit_code == 0);
  CHECK(contains(insecure.err, "warning: --insecure: TLS certificates are not verified"));

  const ProcessResult bad_ca =
      download_fast(nginx.url("/"), folder / "x", {"--ca-file", folder / "missing.pem"});
  CHECK(bad_ca.exit_code == 2);
  CHECK(contains(bad_ca.err, "--ca-file: cannot load"));
}

TEST_CASE("proxies: HTTP_PROXY is used, NO_PROXY bypasses it", "[download-artifact]") {
  TempDir folder;
  FaultServer proxy;  // records the absolute-form request a proxy receives
  FaultServer direct; // the store, reached without the proxy
  serve_artifact(direct, {{"a.txt", "A"}});
  direct.serve("/a.txt", "A");
  SECTION("through the proxy") {
    ProcessOptions env;
    env.set_env = {{"HTTP_PROXY", proxy.url("")}, {"NO_PROXY", "example.org"}};
    const ProcessResult r = download({"http://artifacts.example.invalid/build/1/", "--destination",
                                      folder / "out", "--retries", "0"},
                                     env);
    CHECK(r.exit_code == 3); // the proxy (a FaultServer) knows no such route
    REQUIRE_FALSE(proxy.requests().empty());
    CHECK(proxy.requests()[0].target ==
          "http://artifacts.example.invalid:80/build/1/artifact-metadata.csv");
  }
  SECTION("bypassed by NO_PROXY") {
    ProcessOptions env;
    env.set_env = {{"http_proxy", proxy.url("")}, {"no_proxy", "localhost,127.0.0.1"}};
    const ProcessResult r = download({direct.url("/"), "--destination", folder / "out"}, env);
    CHECK(r.exit_code == 0);
    CHECK(proxy.requests().empty());
    CHECK(read_file(folder / "out/a.txt") == "A");
  }
}

TEST_CASE("SIGINT: exit status 130, no part file left", "[download-artifact]") {
  TempDir folder;
  FaultServer server;
  const std::string body(200000, 'z');
  serve_artifact(server, {{"slow.bin", body}});
  FaultReply drip = reply(body, Fault::drip);
  drip.drip_interval_ms = 50;
  server.on("/slow.bin", {drip});
  ProcessOptions interrupt;
  interrupt.signal = SIGINT;
  interrupt.signal_after_ms = 500;
  const ProcessResult r = download({server.url("/"), "--destination", folder / "out"}, interrupt);
  CHECK(r.exit_code == 130);
  CHECK(contains(r.err, "interrupted"));
  CHECK_FALSE(exists(folder / "out/slow.bin"));
  CHECK_FALSE(exists(folder / "out/slow.bin.part"));
}
