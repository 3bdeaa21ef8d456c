#include "shared/source/work_package.hpp"

#include "shared/error/error.hpp"

#include <Poco/JSON/Object.h>
#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <set>
#include <stdexcept>

namespace shared::source {
namespace {

bool has_control(const std::string& text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

std::vector<WorkPackageFile> parse_files(const std::string& variable, const std::string& json) {
  Poco::JSON::Object::Ptr object;
  try {
    Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true)); // keeps the given order
    object = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception&) {
    throw error::UsageError(variable + ": not a JSON object of file id to extension, e.g. "
                                       "{\"GHGAF1\": \".fastq.gz\"}");
  }
  std::vector<WorkPackageFile> files;
  std::set<std::string> seen;
  for (const auto& id : object->getNames()) {
    const Poco::Dynamic::Var value = object->get(id);
    if (!value.isString()) {
      throw error::UsageError(variable + ": the extension of \"" + id + "\" is not a string");
    }
    std::string extension = value.extract<std::string>();
    if (id.empty() || id.find('/') != std::string::npos || has_control(id)) {
      throw error::UsageError(variable + ": \"" + id +
                              "\" is not a file id (empty, a / or a control character)");
    }
    if (!extension.empty() && extension[0] != '.') {
      extension.insert(0, ".");
    }
    if (extension.find_first_of("/\\") != std::string::npos || has_control(extension) ||
        extension == ".") {
      throw error::UsageError(variable + ": \"" + extension + "\" (of " + id +
                              ") is not a file extension");
    }
    if (seen.insert(id).second) {
      files.push_back({id, extension});
    }
  }
  if (files.empty()) {
    throw error::UsageError(variable + ": the work package has no files");
  }
  return files;
}

crypt4gh::PublicKey parse_key(const std::string& variable, const std::string& text) {
  try {
    return crypt4gh::parse_public_key(text);
  } catch (const std::invalid_argument& e) {
    throw error::UsageError(variable + ": not a Crypt4GH public key: " + e.what());
  }
}

} // namespace

EnvWorkPackageSource::EnvWorkPackageSource(log::EnvLookup env) : m_env(std::move(env)) {}

std::string EnvWorkPackageSource::describe() const {
  return "environment variables GHGA_WORK_PACKAGE_*";
}

WorkPackage EnvWorkPackageSource::fetch() const {
  const auto required = [this](const char* name) {
    auto value = m_env(name);
    if (!value || value->find_first_not_of(" \t\r\n") == std::string::npos) {
      throw error::UsageError(
          std::string(name) + " is not set: provider ghga reads the work package from " + k_files +
          ", " + k_user_id + ", " + k_user_public_key + " and " + k_server_public_key);
    }
    return *value;
  };
  WorkPackage package;
  package.files = parse_files(k_files, required(k_files));
  package.user_id = required(k_user_id);
  package.user_id.erase(0, package.user_id.find_first_not_of(" \t\r\n"));
  package.user_id.erase(package.user_id.find_last_not_of(" \t\r\n") + 1);
  if (has_control(package.user_id)) {
    throw error::UsageError(std::string(k_user_id) + ": has a control character");
  }
  package.user_public_key = parse_key(k_user_public_key, required(k_user_public_key));
  package.server_public_key = parse_key(k_server_public_key, required(k_server_public_key));
  return package;
}

} // namespace shared::source
