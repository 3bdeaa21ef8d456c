#include "shared/glob/glob.hpp"

#include <catch2/catch.hpp>

using shared::glob::Pattern;
using shared::glob::PatternSet;

TEST_CASE("* stays within a folder, ** crosses folders", "[glob]") {
  CHECK(Pattern("*.txt").matches("a.txt"));
  CHECK_FALSE(Pattern("*.txt").matches("dir/a.txt"));
  CHECK(Pattern("**").matches("a/b/c"));
  CHECK(Pattern("**/*.txt").matches("a.txt"));
  CHECK(Pattern("**/*.txt").matches("a/b/c.txt"));
  CHECK_FALSE(Pattern("**/*.txt").matches("a/b/c.txt.bak"));
  CHECK(Pattern("docs/**").matches("docs/a/b"));
  CHECK_FALSE(Pattern("docs/**").matches("other/docs/a"));
  CHECK(Pattern("a/**/z").matches("a/z"));
  CHECK(Pattern("a/**/z").matches("a/b/c/z"));
  CHECK_FALSE(Pattern("a/**/z").matches("a/bz"));
  CHECK(Pattern("**.log").matches("x/y.log"));
  // A lone ** matches every path without running the matcher; written as two alternatives it
  // goes through the matcher, and both agree.
  for (const char* path : {"", "a", "a/b/c", "/", "a//b", ".hidden/x"}) {
    CHECK(Pattern("**").matches(path));
    CHECK(Pattern("{**,**}").matches(path));
  }
  CHECK_FALSE(Pattern("**/").matches("a"));
  CHECK_FALSE(Pattern("{**,x}/y").matches("a"));
}

TEST_CASE("? is one character but never a separator", "[glob]") {
  CHECK(Pattern("a?c").matches("abc"));
  CHECK_FALSE(Pattern("a?c").matches("a/c"));
  CHECK_FALSE(Pattern("a?c").matches("ac"));
}

TEST_CASE("braces give alternatives, nested too", "[glob]") {
  const Pattern p("**/*.{dll,exe,so{,.*}}");
  CHECK(p.matches("bin/app.exe"));
  CHECK(p.matches("lib.dll"));
  CHECK(p.matches("lib/libx.so"));
  CHECK(p.matches("lib/libx.so.1"));
  CHECK_FALSE(p.matches("lib/libx.a"));
  CHECK_THROWS_AS(Pattern("{a,b"), std::invalid_argument);
  CHECK_THROWS_AS(Pattern("a}"), std::invalid_argument);
  CHECK_THROWS_AS(Pattern("a\\"), std::invalid_argument);
}

TEST_CASE("backslash escapes a special character", "[glob]") {
  CHECK(Pattern("a\\*b").matches("a*b"));
  CHECK_FALSE(Pattern("a\\*b").matches("axb"));
  CHECK(Pattern("\\{x\\}").matches("{x}"));
}

TEST_CASE("matching is literal, bytewise and dot files are ordinary", "[glob]") {
  CHECK(Pattern("*").matches(".hidden"));
  CHECK_FALSE(Pattern("A*").matches("a"));
  CHECK(Pattern("caf\xc3\xa9/*").matches("caf\xc3\xa9/x"));
  CHECK(Pattern("").matches(""));
  CHECK_FALSE(Pattern("").matches("a"));
}

TEST_CASE("pattern sets: includes, then '!' excludes", "[glob]") {
  const PatternSet set = PatternSet::from_lines({"**/*.txt", "  ", "!**/secret/**", "!b.txt", ""});
  CHECK(set.matches("a.txt"));
  CHECK(set.matches("x/y.txt"));
  CHECK_FALSE(set.matches("x/secret/y.txt"));
  CHECK_FALSE(set.matches("b.txt"));
  CHECK_FALSE(set.matches("a.bin"));
  const PatternSet only_excludes = PatternSet::from_lines({"!*.tmp"});
  CHECK(only_excludes.matches("deep/a.bin"));
  CHECK_FALSE(only_excludes.matches("a.tmp"));
  CHECK(PatternSet({"**"}, {"build/**"}).matches("src/a"));
  CHECK_FALSE(PatternSet({"**"}, {"build/**"}).matches("build/a"));
}

TEST_CASE("long paths with many stars stay fast (no backtracking blow-up)", "[glob]") {
  const Pattern p("**a**a**a**a**a**a**a**a**b");
  CHECK_FALSE(p.matches(std::string(2000, 'a')));
}
