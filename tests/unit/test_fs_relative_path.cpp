#include "shared/fs/relative_path.hpp"

#include <catch2/catch.hpp>

using shared::fs::relative_path_problem;

TEST_CASE("safe relative paths pass", "[fs]") {
  CHECK_FALSE(relative_path_problem("a"));
  CHECK_FALSE(relative_path_problem("a/b/c.txt"));
  CHECK_FALSE(relative_path_problem(".hidden/..dots/x..y"));
  CHECK_FALSE(relative_path_problem("-rf"));
  CHECK_FALSE(relative_path_problem("a b/ü, \"q\""));
}

TEST_CASE("paths that could leave the folder are refused", "[fs]") {
  CHECK(relative_path_problem("")->find("empty path") != std::string::npos);
  CHECK(relative_path_problem("/etc/x")->find("absolute") != std::string::npos);
  CHECK(relative_path_problem("C:/x")->find("drive letter") != std::string::npos);
  CHECK(relative_path_problem("c:x")->find("drive letter") != std::string::npos);
  CHECK(relative_path_problem("../x")->find("\"..\" segment") != std::string::npos);
  CHECK(relative_path_problem("a/../../x")->find("\"..\" segment") != std::string::npos);
  CHECK(relative_path_problem("a/./x")->find("\".\" segment") != std::string::npos);
  CHECK(relative_path_problem("a/..")->find("\"..\" segment") != std::string::npos);
  CHECK(relative_path_problem("a//b")->find("empty segment") != std::string::npos);
  CHECK(relative_path_problem("a/")->find("empty segment") != std::string::npos);
  CHECK(relative_path_problem(std::string("a\0b", 3))->find("NUL") != std::string::npos);
}
