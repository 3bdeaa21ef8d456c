#include "shared/store/object_store.hpp"

#include "shared/error/error.hpp"
#include "shared/source/file_source.hpp"
#include "shared/store/azure_blob.hpp"
#include "shared/store/local_store.hpp"

#include <memory>

namespace shared::store {

std::optional<std::string> check_object_name(const std::string& name) {
  if (name.empty()) {
    return "empty";
  }
  if (name.size() > 1024) {
    return "longer than 1,024 bytes";
  }
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t slash = name.find('/', start);
    if (slash == std::string::npos) {
      slash = name.size();
    }
    const std::string segment = name.substr(start, slash - start);
    if (segment.empty()) {
      return "has an empty segment (a leading, trailing or double '/')";
    }
    if (segment == "." || segment == "..") {
      return "has a \".\" or \"..\" segment";
    }
    for (const char c : segment) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
      if (!ok) {
        return "has a character other than letters, digits, '.', '_', '-' and '/'";
      }
    }
    start = slash + 1;
  }
  return std::nullopt;
}

std::unique_ptr<ObjectStore> make_store(const std::string& spec, const StoreContext& context) {
  if (spec.empty()) {
    throw error::UsageError("--store: empty; give a folder or an azblob:// URL");
  }
  if (spec.compare(0, 9, "azblob://") == 0) {
    if (context.logger == nullptr) {
      throw std::invalid_argument("make_store: a remote store needs a logger");
    }
    const log::EnvLookup env = context.env ? context.env : log::process_environment();
    azure::Credentials credentials;
    credentials.key = env("AZURE_STORAGE_KEY").value_or("");
    credentials.sas = env("AZURE_STORAGE_SAS").value_or("");
    if (!credentials.key.empty() && !credentials.sas.empty()) {
      credentials.sas.clear(); // the key signs everything, including read SAS URLs
    }
    return std::make_unique<azure::AzureBlobStore>(
        azure::parse_azblob_url(spec), std::move(credentials), context.http, *context.logger);
  }
  const auto colon = spec.find("://");
  if (colon != std::string::npos && spec.compare(0, colon, "file") != 0) {
    throw error::UsageError("--store: \"" + spec +
                            "\": unknown kind; give a folder, file:///path or azblob://…");
  }
  return std::make_unique<LocalStore>(source::path_from_file_url(spec), context.local_url_base);
}

} // namespace shared::store
