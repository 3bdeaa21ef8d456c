// The GHGA work package read from environment variables.
#include "shared/error/error.hpp"
#include "shared/source/work_package.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

using shared::source::EnvWorkPackageSource;
using shared::source::WorkPackageFile;

namespace {

const std::string k_user_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";   // 0..31
const std::string k_server_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="; // 32..63

std::map<std::string, std::string> complete_env() {
  return {{"GHGA_WORK_PACKAGE_FILES", R"({"GHGAF3": ".fastq.gz", "GHGAF1": "bam", "GHGAF2": ""})"},
          {"GHGA_WORK_PACKAGE_USER_ID", " user-42\n"},
          {"GHGA_WORK_PACKAGE_USER_PUBLIC_KEY", k_user_key},
          {"GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY", "-----BEGIN CRYPT4GH PUBLIC KEY-----\n" +
                                                      k_server_key +
                                                      "\n-----END CRYPT4GH PUBLIC KEY-----\n"}};
}

EnvWorkPackageSource source_of(const std::map<std::string, std::string>& env) {
  return EnvWorkPackageSource([env](const std::string& name) -> std::optional<std::string> {
    const auto found = env.find(name);
    return found == env.end() ? std::nullopt : std::optional<std::string>(found->second);
  });
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs pairs(const std::vector<WorkPackageFile>& files) {
  Pairs result;
  for (const auto& file : files) {
    result.emplace_back(file.id, file.extension);
  }
  return result;
}

} // namespace

TEST_CASE("the work package comes from the four GHGA_WORK_PACKAGE_* variables", "[work-package]") {
  const auto package = source_of(complete_env()).fetch();
  // the given order; a missing "." added; no extension kept empty
  CHECK(pairs(package.files) == Pairs{{"GHGAF3", ".fastq.gz"}, {"GHGAF1", ".bam"}, {"GHGAF2", ""}});
  CHECK(package.user_id == "user-42");
  CHECK(shared::crypt4gh::to_base64(package.user_public_key) == k_user_key);
  CHECK(shared::crypt4gh::to_base64(package.server_public_key) == k_server_key);
  CHECK(source_of(complete_env()).describe().find("GHGA_WORK_PACKAGE_") != std::string::npos);
}

TEST_CASE("a missing or empty work-package variable is a usage error naming it", "[work-package]") {
  const std::string name =
      GENERATE(as<std::string>{}, "GHGA_WORK_PACKAGE_FILES", "GHGA_WORK_PACKAGE_USER_ID",
               "GHGA_WORK_PACKAGE_USER_PUBLIC_KEY", "GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY");
  auto env = complete_env();
  SECTION("unset") {
    env.erase(name);
  }
  SECTION("empty") {
    env[name] = " \n";
  }
  try {
    source_of(env).fetch();
    FAIL("no error for " << name);
  } catch (const shared::error::UsageError& e) {
    CHECK(std::string(e.what()).rfind(name + " is not set", 0) == 0);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
  }
}

TEST_CASE("a malformed work-package variable is a usage error naming it", "[work-package]") {
  using Catch::Contains;
  using Catch::StartsWith;
  const auto with = [](const std::string& name, const std::string& value) {
    auto env = complete_env();
    env[name] = value;
    return source_of(env);
  };
  const std::string files = "GHGA_WORK_PACKAGE_FILES";
  CHECK_THROWS_WITH(with(files, "GHGAF1,GHGAF2").fetch(),
                    StartsWith(files + ": not a JSON object"));
  CHECK_THROWS_WITH(with(files, R"(["GHGAF1"])").fetch(),
                    StartsWith(files + ": not a JSON object"));
  CHECK_THROWS_WITH(with(files, "{}").fetch(),
                    StartsWith(files + ": the work package has no files"));
  CHECK_THROWS_WITH(with(files, R"({"GHGAF1": 3})").fetch(), Contains("not a string"));
  CHECK_THROWS_WITH(with(files, R"({"../x": ".bam"})").fetch(), Contains("is not a file id"));
  CHECK_THROWS_WITH(with(files, R"({"": ".bam"})").fetch(), Contains("is not a file id"));
  CHECK_THROWS_WITH(with(files, R"({"GHGAF1": ".b/../../x"})").fetch(),
                    Contains("is not a file extension"));
  CHECK_THROWS_WITH(with(files, R"({"GHGAF1": "."})").fetch(), Contains("is not a file extension"));
  CHECK_THROWS_WITH(with("GHGA_WORK_PACKAGE_USER_PUBLIC_KEY", "AAAA").fetch(),
                    StartsWith("GHGA_WORK_PACKAGE_USER_PUBLIC_KEY: not a Crypt4GH public key"));
  CHECK_THROWS_WITH(with("GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY", "hello world").fetch(),
                    StartsWith("GHGA_WORK_PACKAGE_SERVER_PUBLIC_KEY: not a Crypt4GH public key"));
  CHECK_NOTHROW(with(files, R"({"GHGAF1": ".bam"})").fetch());
}
