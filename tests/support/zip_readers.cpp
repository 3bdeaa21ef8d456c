#include "tests/support/zip_readers.hpp"

#include "shared/hash/sha256.hpp"
#include "tests/support/process.hpp"

#include <Poco/Zip/ZipArchive.h>
#include <Poco/Zip/ZipStream.h>
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <vector>

namespace tests::support {
namespace {

// Prints per entry the name (hex of its UTF-8 bytes), the mode, the host system, the UTF-8
// flag, the size, the SHA-256 and the MS-DOS date and time.
constexpr const char* k_python_script = R"(
import hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        h = hashlib.sha256()
        n = 0
        with z.open(i) as f:
            while True:
                b = f.read(1 << 20)
                if not b:
                    break
                h.update(b)
                n += len(b)
        if n != i.file_size:
            sys.exit('%s: read %d bytes, listed %d' % (i.filename, n, i.file_size))
        print(i.filename.encode().hex(), i.external_attr >> 16, i.create_system,
              1 if i.flag_bits & 0x800 else 0, n, h.hexdigest(),
              '%04d-%02d-%02dT%02d:%02d:%02d' % i.date_time, sep='\t')
)";

std::string unhex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

} // namespace

std::string sha_hex(std::string_view data) {
  return shared::hash::to_hex(shared::hash::sha256(data), false);
}

std::string describe(const Seen& s) {
  std::ostringstream out;
  out << "size " << s.size << " mode 0" << std::oct << s.mode << std::dec << " sha256 " << s.sha256;
  return out.str();
}

std::string difference(const Listing& expected, const Listing& actual) {
  std::string text;
  for (const auto& [name, seen] : expected) {
    const auto it = actual.find(name);
    if (it == actual.end()) {
      text += "missing: " + name + "\n";
    } else if (!(it->second == seen)) {
      text += "differs: " + name + ": expected " + describe(seen) + ", got " +
              describe(it->second) + "\n";
    }
  }
  for (const auto& [name, seen] : actual) {
    if (expected.count(name) == 0) {
      text += "unexpected: " + name + " (" + describe(seen) + ")\n";
    }
  }
  return text;
}

PythonView read_with_python(const std::string& archive) {
  const auto result = run_process({k_python, "-c", k_python_script, archive});
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  PythonView view;
  std::istringstream lines(result.out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string name_hex, date;
    std::uint32_t mode = 0;
    int system = 0, utf8 = 0;
    Seen seen;
    fields >> name_hex >> mode >> system >> utf8 >> seen.size >> seen.sha256 >> date;
    seen.mode = mode;
    const std::string name = unhex(name_hex);
    view.listing[name] = seen;
    view.dates[name] = date;
    view.unix_and_utf8 = view.unix_and_utf8 && system == 3 && utf8 == 1;
  }
  return view;
}

Listing read_with_poco(const std::string& archive) {
  std::ifstream in(archive, std::ios::binary);
  REQUIRE(in);
  const Poco::Zip::ZipArchive zip(in);
  Listing listing;
  std::vector<char> buffer(1 << 20);
  for (auto it = zip.headerBegin(); it != zip.headerEnd(); ++it) {
    shared::hash::Sha256 hasher;
    Seen seen;
    if (!it->second.isDirectory()) {
      in.clear(); // the archive's parse, or the last entry's, may have left it at end of file
      Poco::Zip::ZipInputStream body(in, it->second, true);
      while (body) {
        body.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto n = static_cast<std::size_t>(body.gcount());
        hasher.update(buffer.data(), n);
        seen.size += n;
      }
    }
    seen.sha256 = shared::hash::to_hex(hasher.finish(), false);
    listing[it->first] = seen;
  }
  bool made_on_unix = true;
  // Modes from the central directory (the external attributes, at offset 38 of the header
  // Poco hands back; its getHostSystem() reads the wrong byte, so "made by" is read here too);
  // a name there without a local header shows up as missing.
  for (auto it = zip.fileInfoBegin(); it != zip.fileInfoEnd(); ++it) {
    const std::string header = it->second.createHeader();
    made_on_unix = made_on_unix && static_cast<unsigned char>(header.at(5)) == 3;
    std::uint32_t attributes = 0;
    for (int i = 3; i >= 0; --i) {
      attributes = (attributes << 8) | static_cast<unsigned char>(header.at(38 + i));
    }
    listing[it->first].mode = attributes >> 16;
  }
  CHECK(made_on_unix);
  return listing;
}

void test_with_unzip(const std::string& archive) {
  const auto result = run_process({k_unzip, "-tq", archive});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("No errors detected") != std::string::npos);
}

void check_archive(const std::string& archive, const Listing& expected) {
  INFO("archive " << archive);
  if (expected.empty()) {
    const auto result = run_process({k_unzip, "-tq", archive});
    CHECK(result.exit_code == 1); // a warning
    CHECK(result.out.find("zipfile is empty") != std::string::npos);
  } else {
    test_with_unzip(archive);
  }
  const PythonView python = read_with_python(archive);
  CHECK(difference(expected, python.listing) == "");
  CHECK(python.unix_and_utf8);
  CHECK(difference(expected, read_with_poco(archive)) == "");
}

} // namespace tests::support
