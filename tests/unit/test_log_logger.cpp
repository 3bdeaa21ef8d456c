#include "shared/log/limited_warnings.hpp"
#include "shared/log/logger.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>

using namespace shared::log;

namespace {

struct Capture {
  std::ostringstream out;
  std::ostringstream err;
  Logger logger;
  explicit Capture(Dialect dialect) : logger(dialect, out, err) {}
};

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
}

} // namespace

TEST_CASE("the dialect follows the CI system's marker variables", "[log]") {
  CHECK(detect_dialect(fake_env({})) == Dialect::plain);
  CHECK(detect_dialect(fake_env({{"TF_BUILD", "True"}})) == Dialect::azure);
  CHECK(detect_dialect(fake_env({{"GITHUB_ACTIONS", "true"}})) == Dialect::github);
  CHECK(parse_dialect("plain", fake_env({{"TF_BUILD", "True"}})) == Dialect::plain);
  CHECK(parse_dialect("auto", fake_env({{"GITHUB_ACTIONS", "true"}})) == Dialect::github);
  CHECK_THROWS_AS(parse_dialect("jenkins", fake_env({})), std::invalid_argument);
}

TEST_CASE("plain: info on stdout, problems on stderr", "[log]") {
  Capture c(Dialect::plain);
  c.logger.info("hello");
  c.logger.warning("careful");
  c.logger.error("broken");
  c.logger.set_progress(50, "ignored");
  c.logger.complete(Result::failed, "ignored");
  CHECK(c.out.str() == "hello\n");
  CHECK(c.err.str() == "warning: careful\nerror: broken\n");
}

TEST_CASE("azure: logging commands", "[log]") {
  Capture c(Dialect::azure);
  c.logger.warning("50% done\nnext");
  c.logger.error("failed");
  c.logger.set_progress(42, "Hashing");
  c.logger.group_begin("Inputs");
  c.logger.group_end();
  c.logger.complete(Result::failed, "1 item failed");
  CHECK(c.out.str() == "##vso[task.logissue type=warning]50%AZP25 done%0Anext\n"
                       "##vso[task.logissue type=error]failed\n"
                       "##vso[task.setprogress value=42;]Hashing\n"
                       "##[group]Inputs\n"
                       "##[endgroup]\n"
                       "##vso[task.complete result=Failed;]1 item failed\n");
  CHECK(c.err.str().empty());
}

TEST_CASE("github: workflow commands", "[log]") {
  Capture c(Dialect::github);
  c.logger.warning("100%\r\nsure");
  c.logger.error("failed");
  c.logger.group_begin("Inputs");
  c.logger.group_end();
  c.logger.complete(Result::succeeded, "ignored");
  CHECK(c.out.str() ==
        "::warning::100%25%0D%0Asure\n::error::failed\n::group::Inputs\n::endgroup::\n");
}

TEST_CASE("secrets are masked in every dialect and announced to the CI system", "[log]") {
  for (const Dialect dialect : {Dialect::plain, Dialect::azure, Dialect::github}) {
    Capture c(dialect);
    c.logger.add_secret("hunter2");
    c.logger.add_secret("hunter2-long"); // longer secrets first, so no tail leaks
    c.logger.add_secret("");             // ignored
    c.logger.info("token=hunter2-long and hunter2");
    c.logger.warning("w hunter2");
    c.logger.error("e hunter2");
    c.logger.group_begin("g hunter2");
    c.logger.set_progress(1, "p hunter2");
    c.logger.complete(Result::failed, "c hunter2");
    c.logger.set_status_line("s hunter2");
    const std::string all = c.out.str() + c.err.str();
    // Only the mask registration itself may carry the value, and it is consumed by the agent.
    std::string shown = all;
    for (const char* registration :
         {"::add-mask::hunter2-long\n", "::add-mask::hunter2\n",
          "##vso[task.setsecret]hunter2-long\n", "##vso[task.setsecret]hunter2\n"}) {
      const auto at = shown.find(registration);
      if (at != std::string::npos) {
        shown.erase(at, std::string(registration).size());
      }
    }
    INFO(all);
    CHECK(shown.find("hunter2") == std::string::npos);
    CHECK(all.find("token=*** and ***") != std::string::npos);
    if (dialect == Dialect::github) {
      CHECK(all.rfind("::add-mask::hunter2\n", 0) == 0);
    }
    if (dialect == Dialect::azure) {
      CHECK(all.rfind("##vso[task.setsecret]hunter2\n", 0) == 0);
    }
  }
}

TEST_CASE("text from outside cannot inject a logging command", "[log]") {
  SECTION("azure") {
    Capture c(Dialect::azure);
    c.logger.info("file ##vso[task.setvariable variable=x]1\n##[error]x");
    CHECK(c.out.str().find("##vso[task.setvariable") == std::string::npos);
    CHECK(c.out.str().find("\n##[error]") == std::string::npos);
    CHECK(c.out.str().find("\\n") != std::string::npos);
  }
  SECTION("github") {
    Capture c(Dialect::github);
    c.logger.info("::set-output name=x::1");
    c.logger.info("a\n::error::injected");
    CHECK(c.out.str().find("\n::") == std::string::npos);
    CHECK(c.out.str().rfind("::", 0) != 0);
  }
}

TEST_CASE("a status line is cleared before a log line and redrawn after it", "[log]") {
  Capture c(Dialect::plain);
  c.logger.set_status_line("working 1/2");
  c.logger.warning("hm");
  c.logger.set_status_line("");
  CHECK(c.err.str() == "\r\033[Kworking 1/2\r\033[Kwarning: hm\nworking 1/2\r\033[K");
}

TEST_CASE("debug lines only when verbose", "[log]") {
  Capture c(Dialect::github);
  c.logger.debug("hidden");
  c.logger.set_verbose(true);
  c.logger.debug("shown");
  CHECK(c.out.str() == "::debug::shown\n");
}

TEST_CASE("limited warnings: the first few, then a count", "[log]") {
  Capture c(Dialect::plain);
  LimitedWarnings warnings(c.logger, 2);
  for (int i = 0; i < 5; ++i) {
    warnings.warn("w" + std::to_string(i));
  }
  warnings.finish("links skipped");
  CHECK(warnings.count() == 5);
  CHECK(c.err.str() == "warning: w0\nwarning: w1\nwarning: 3 more links skipped (not shown)\n");
  CHECK(c.logger.warning_count() == 3);
}
