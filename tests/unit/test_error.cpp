#include "shared/error/error.hpp"

#include <catch2/catch.hpp>

#include <set>

using namespace shared::error;

TEST_CASE("exit statuses are distinct and documented", "[error]") {
  std::set<int> codes;
  for (const auto& row : exit_code_table()) {
    CHECK(codes.insert(static_cast<int>(row.code)).second);
    CHECK(std::string(row.meaning).size() > 5);
  }
  CHECK(codes.count(0) == 1);
  CHECK(codes.count(130) == 1);
}

TEST_CASE("exceptions map to their exit status", "[error]") {
  CHECK(exit_code_for(UsageError("x")) == ExitCode::usage);
  CHECK(exit_code_for(IoError("x")) == ExitCode::io);
  CHECK(exit_code_for(IntegrityError("x")) == ExitCode::integrity);
  CHECK(exit_code_for(Interrupted()) == ExitCode::interrupted);
  CHECK(exit_code_for(std::runtime_error("x")) == ExitCode::internal);
}
