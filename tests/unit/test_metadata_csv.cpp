#include "shared/metadata/metadata_csv.hpp"

#include <catch2/catch.hpp>

using namespace shared::metadata;
using shared::hash::sha256;
using shared::hash::to_hex;

namespace {

std::string parse_error(std::string_view text) {
  try {
    parse_csv(text);
  } catch (const ParseError& e) {
    return e.what();
  }
  return "(no error)";
}

const std::string k_hash = to_hex(sha256("content"));

} // namespace

TEST_CASE("the writer sorts bytewise, uppercases, and quotes only what RFC 4180 needs",
          "[metadata]") {
  const std::string csv = to_csv({{"b", sha256("b")},
                                  {"a/z", sha256("z")},
                                  {"B", sha256("B")},
                                  {"\xc3\xbc", sha256("u")},
                                  {"a,b", sha256("c")}});
  CHECK(csv == "B," + to_hex(sha256("B")) + "\n" +           //
                   "\"a,b\"," + to_hex(sha256("c")) + "\n" + //
                   "a/z," + to_hex(sha256("z")) + "\n" +     //
                   "b," + to_hex(sha256("b")) + "\n" +       //
                   "\xc3\xbc," + to_hex(sha256("u")) + "\n");
}

TEST_CASE("hostile names survive a round trip", "[metadata]") {
  const std::vector<std::string> names = {
      "comma,in,name",    "quote\"inside",    "\"starts with quote",
      "new\nline",        "carriage\rreturn", "crlf\r\nname",
      "spaces  in name ", " leading space",   "-rf",
      "--help",           "dir/-leading",     "\xc3\xa9t\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt",
      "tab\there",        "trailing,",        "\"\"",
      "#not a comment",   "x\xff\xfe"}; // invalid UTF-8 too
  std::vector<Entry> entries;
  for (const auto& name : names) {
    entries.push_back({name, sha256(name)});
  }
  const Metadata parsed = parse_csv(to_csv(entries));
  REQUIRE(parsed.entries.size() == names.size());
  for (const auto& name : names) {
    const Entry* entry = parsed.find(name);
    REQUIRE(entry != nullptr);
    CHECK(entry->sha256 == sha256(name));
  }
}

TEST_CASE("the reader accepts upstream's variants", "[metadata]") {
  const std::string lower = to_hex(sha256("content"), false);
  SECTION("backslash separators") {
    const Metadata m = parse_csv("dir\\sub\\file.txt," + k_hash + "\n");
    REQUIRE(m.find("dir/sub/file.txt") != nullptr);
  }
  SECTION("lowercase hex") {
    CHECK(parse_csv("a," + lower + "\n").find("a")->sha256 == sha256("content"));
  }
  SECTION("CRLF line ends") {
    const Metadata m = parse_csv("a," + k_hash + "\r\nb," + lower + "\r\n");
    CHECK(m.entries.size() == 2);
    CHECK(m.find("b") != nullptr);
  }
  SECTION("a UTF-8 byte order mark") {
    CHECK(parse_csv("\xEF\xBB\xBF"
                    "a," +
                    k_hash + "\n")
              .find("a") != nullptr);
  }
  SECTION("no newline after the last line") {
    const Metadata m = parse_csv("a," + k_hash + "\nb," + k_hash);
    CHECK(m.entries.size() == 2);
  }
  SECTION("lines in completion order, not sorted") {
    const Metadata m = parse_csv("z," + k_hash + "\na," + k_hash + "\n");
    REQUIRE(m.entries.size() == 2);
    CHECK(m.entries[0].path == "a");
  }
  SECTION("an unquoted double quote inside a name, as upstream wrote it") {
    CHECK(parse_csv("say \"hi\"," + k_hash + "\n").find("say \"hi\"") != nullptr);
  }
  SECTION("an empty file and blank lines") {
    CHECK(parse_csv("").entries.empty());
    CHECK(parse_csv("\n\na," + k_hash + "\n\n").entries.size() == 1);
  }
}

TEST_CASE("the reader rejects what it cannot trust, naming the line", "[metadata]") {
  const std::string ok = "ok," + k_hash + "\n";
  CHECK(parse_error(ok + "a,b," + k_hash + "\n") ==
        "artifact-metadata.csv line 2: expected 2 fields (path,sha256), found 3");
  CHECK(parse_error(ok + ok + "justapath\n") ==
        "artifact-metadata.csv line 3: expected 2 fields (path,sha256), found 1");
  CHECK(parse_error("a," + k_hash.substr(1) + "\n")
            .rfind("artifact-metadata.csv line 1: hash \"", 0) == 0);
  CHECK(parse_error("a," + k_hash + "0\n").find("is not 64 hex digits") != std::string::npos);
  CHECK(parse_error("a,XYZ\n").find("line 1: hash \"XYZ\" is not 64 hex digits") !=
        std::string::npos);
  CHECK(parse_error(ok + "," + k_hash + "\n") == "artifact-metadata.csv line 2: empty path");
  CHECK(parse_error("/etc/x," + k_hash + "\n").find("line 1: absolute path") != std::string::npos);
  CHECK(parse_error("\\etc\\x," + k_hash + "\n").find("line 1: absolute path") !=
        std::string::npos);
  CHECK(parse_error("C:\\x," + k_hash + "\n").find("line 1: path with a drive letter") !=
        std::string::npos);
  CHECK(parse_error("../x," + k_hash + "\n").find("line 1: \"..\" segment") != std::string::npos);
  CHECK(parse_error("a/../../x," + k_hash + "\n").find("\"..\" segment") != std::string::npos);
  CHECK(parse_error("a\\..\\x," + k_hash + "\n").find("\"..\" segment") != std::string::npos);
  CHECK(parse_error("./x," + k_hash + "\n").find("line 1: \".\" segment") != std::string::npos);
  CHECK(parse_error(ok + "b," + k_hash + "\nok," + k_hash + "\n") ==
        "artifact-metadata.csv line 3: duplicate path \"ok\" (first on line 1)");
  CHECK(parse_error(ok + "dup\\x," + k_hash + "\ndup/x," + k_hash + "\n")
            .find("line 3: duplicate path") != std::string::npos);
  CHECK(parse_error("\"unterminated," + k_hash + "\n") ==
        "artifact-metadata.csv line 1: quoted field is not closed");
}

TEST_CASE("line numbers count the lines inside quoted fields", "[metadata]") {
  const std::string text = "\"multi\nline\"," + k_hash + "\nbad\n";
  CHECK(parse_error(text) ==
        "artifact-metadata.csv line 3: expected 2 fields (path,sha256), found 1");
}

TEST_CASE("the writer refuses paths a reader would misread", "[metadata]") {
  CHECK_THROWS_AS(to_csv({{"a\\b", sha256("")}}), std::invalid_argument);
  CHECK_THROWS_AS(to_csv({{"../a", sha256("")}}), std::invalid_argument);
  CHECK_THROWS_AS(to_csv({{"a", sha256("")}, {"a", sha256("x")}}), std::invalid_argument);
  CHECK(unwritable_path_problem("a\\b")->find("backslash") != std::string::npos);
  CHECK_FALSE(unwritable_path_problem("a/b"));
}
