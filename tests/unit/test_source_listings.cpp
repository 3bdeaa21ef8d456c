#include "shared/source/http_source.hpp"

#include <catch2/catch.hpp>

using namespace shared::source;

TEST_CASE("nginx's JSON index gives names, kinds and sizes", "[source]") {
  const auto entries = parse_json_index(
      R"([{ "name":"sub dir", "type":"directory", "mtime":"Sun, 22 Nov 2026 04:00:00 GMT" },)"
      R"({ "name":"a,b.txt", "type":"file", "mtime":"Sun, 22 Nov 2026 04:00:00 GMT", "size":10 },)"
      R"({ "name":"sock", "type":"other", "mtime":"x" }])");
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].name == "sub dir");
  CHECK(entries[0].is_directory);
  CHECK(entries[1].name == "a,b.txt");
  CHECK(entries[1].size == 10u);
  CHECK_THROWS(parse_json_index("{}"));
  CHECK_THROWS(parse_json_index("[{\"type\":\"file\"}]"));
}

TEST_CASE("HTML index pages give their children's links", "[source]") {
  SECTION("nginx autoindex") {
    const auto links =
        parse_html_index(R"(<html><body><h1>Index of /r/</h1><hr><pre><a href="../">../</a>
<a href="sub%20dir/">sub dir/</a>                                           22-Nov-2026 04:00       -
<a href="a%2Cb.txt">a,b.txt</a>                                             22-Nov-2026 04:00      10
<a href="x&amp;y.txt">x&amp;y.txt</a>
</pre><hr></body></html>)",
                         "http://h/r/");
    REQUIRE(links.size() == 3);
    CHECK(links[0].name == "sub dir");
    CHECK(links[0].is_directory);
    CHECK(links[1].name == "a,b.txt");
    CHECK_FALSE(links[1].is_directory);
    CHECK(links[2].name == "x&y.txt");
  }
  SECTION("Apache autoindex: sort links, parent and absolute links are left out") {
    const auto links = parse_html_index(R"(<table><tr><th><a href="?C=N;O=D">Name</a></th></tr>
<tr><td><a href="/files/">Parent Directory</a></td></tr>
<tr><td><a href="/files/r/app.exe">app.exe</a></td></tr>
<tr><td><a href='lib/'>lib/</a></td></tr>
<tr><td><a href="http://elsewhere.example/x">x</a></td></tr>
<tr><td><a href="#top">top</a></td></tr>)",
                                        "http://h/files/r/");
    REQUIRE(links.size() == 2);
    CHECK(links[0].name == "app.exe");
    CHECK(links[1].name == "lib");
    CHECK(links[1].is_directory);
  }
  SECTION("no traversal through links") {
    const auto links = parse_html_index(
        R"(<a href="../../etc/passwd">x</a><a href="a/../../b">y</a>)", "http://h/r/");
    CHECK(links.empty());
  }
}
