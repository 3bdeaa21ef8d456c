#include "shared/store/local_store.hpp"

#include "shared/error/error.hpp"
#include "shared/fs/part_file.hpp"

#include <cerrno>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace shared::store {
namespace {

class LocalWriter : public ObjectWriter {
public:
  explicit LocalWriter(const std::string& path) : m_file(path) {}
  void write(const char* data, std::size_t size) override {
    m_file.write(data, size);
    m_size += size;
  }
  void commit() override { m_file.commit(); }
  std::uint64_t size() const override { return m_size; }

private:
  fs::PartFile m_file;
  std::uint64_t m_size = 0;
};

void create_folders(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw error::IoError("cannot create the store folder " + path + ": " + ec.message());
  }
}

} // namespace

LocalStore::LocalStore(std::string folder, std::string url_base)
    : m_folder(std::move(folder)), m_url_base(std::move(url_base)) {
  while (m_folder.size() > 1 && m_folder.back() == '/') {
    m_folder.pop_back();
  }
  create_folders(m_folder);
}

std::string LocalStore::path_of(const std::string& name) const {
  if (const auto problem = check_object_name(name)) {
    throw error::UsageError("object name \"" + name + "\": " + *problem);
  }
  return m_folder + "/" + name;
}

std::unique_ptr<ObjectWriter> LocalStore::create(const std::string& name) {
  const std::string path = path_of(name);
  const auto slash = name.rfind('/');
  if (slash != std::string::npos) {
    create_folders(m_folder + "/" + name.substr(0, slash));
  }
  return std::make_unique<LocalWriter>(path);
}

std::string LocalStore::read_url(const std::string& name, std::chrono::seconds valid_for) {
  (void)valid_for;
  path_of(name); // checks the name
  return m_url_base + name;
}

bool LocalStore::remove(const std::string& name) {
  const std::string path = path_of(name);
  if (::unlink(path.c_str()) == 0) {
    return true;
  }
  if (errno == ENOENT) {
    return false;
  }
  throw error::IoError(error::system_message("cannot delete " + path, errno));
}

bool LocalStore::exists(const std::string& name) {
  struct stat info {};
  return ::stat(path_of(name).c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::optional<std::string> LocalStore::local_path(const std::string& name) const {
  return path_of(name);
}

} // namespace shared::store
