#include "shared/error/error.hpp"
#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"
#include "shared/source/file_source.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <unistd.h>

using namespace tests::support;

namespace {

const shared::source::Item& item_at(const shared::source::Listing& listing,
                                    const std::string& path) {
  for (const auto& item : listing.items) {
    if (item.path == path) {
      return item;
    }
  }
  FAIL("not listed: " << path);
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("a folder source reads its files beneath its root and follows no symlink", "[source]") {
  TempDir folder;
  write_file(folder / "root/sub/file", "file");
  write_file(folder / "outside/file", "secret");
  std::ostringstream out;
  shared::log::Logger logger(shared::log::Dialect::plain, out, out);
  shared::source::FileSource source(folder / "root", logger);
  const shared::source::Listing listing = source.list();
  const shared::source::Item listed = item_at(listing, "sub/file");
  const auto reader = source.open_reader();

  shared::http::StringSink whole;
  reader->fetch(listed, whole);
  CHECK(whole.body() == "file");
  shared::http::StringSink part;
  reader->fetch_range(listed, 1, 2, part);
  CHECK(part.body() == "il");

  // After the listing, the folder becomes a symlink out of the root: refused, not followed.
  REQUIRE(::rename((folder / "root/sub").c_str(), (folder / "root/moved").c_str()) == 0);
  REQUIRE(::symlink((folder / "outside").c_str(), (folder / "root/sub").c_str()) == 0);
  shared::http::StringSink refused;
  CHECK_THROWS_AS(reader->fetch(listed, refused), shared::error::IoError);
  CHECK(refused.body().empty());

  shared::source::Item up = listed;
  up.path = "../outside/file";
  CHECK_THROWS_AS(reader->fetch(up, refused), shared::error::IoError);
  CHECK(refused.body().empty());
}
