#include "shared/error/error.hpp"
#include "shared/source/file_source.hpp"
#include "shared/source/http_source.hpp"

#include <Poco/String.h>

#include <sys/stat.h>

namespace shared::source {
namespace {

std::string scheme_of(const std::string& location) {
  const auto colon = location.find("://");
  if (colon == std::string::npos) {
    return {};
  }
  return Poco::toLower(location.substr(0, colon));
}

} // namespace

void Reader::fetch_range(const Item& item, std::uint64_t, std::uint64_t, http::BodySink&) {
  throw RangesUnsupported(item.path + ": this store cannot send part of a file");
}

std::optional<std::uint64_t> Reader::fetch_first(const Item& item, std::uint64_t,
                                                 http::BodySink& sink) {
  fetch(item, sink);
  return std::nullopt;
}

std::unique_ptr<Source> make_source(const std::string& location, const std::string& provider,
                                    const SourceContext& context) {
  const std::string scheme = scheme_of(location);
  std::string kind = provider;
  if (kind == "auto") {
    if (scheme.empty() || scheme == "file") {
      kind = "file";
    } else if (scheme == "http" || scheme == "https") {
      kind = "http";
    } else {
      throw error::UsageError("--source: unsupported URL scheme \"" + scheme +
                              "\" (file, http, https)");
    }
  }
  if (kind == "file") {
    if (!scheme.empty() && scheme != "file") {
      throw error::UsageError("--source: provider file needs a path or file:// URL, got \"" +
                              location + "\"");
    }
    const std::string root = path_from_file_url(location);
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
      throw error::UsageError("--source: \"" + root + "\" does not exist");
    }
    if (!S_ISDIR(st.st_mode)) {
      throw error::UsageError("--source: \"" + root + "\" is not a folder");
    }
    return std::make_unique<FileSource>(root, *context.logger);
  }
  if (kind == "http") {
    if (scheme != "http" && scheme != "https") {
      throw error::UsageError("--source: provider http needs an http:// or https:// URL, got \"" +
                              location + "\"");
    }
    return std::make_unique<HttpSource>(location, context.http, *context.logger);
  }
  throw error::UsageError("--provider: unknown provider \"" + provider + "\"");
}

} // namespace shared::source
