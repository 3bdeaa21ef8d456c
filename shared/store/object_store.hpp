// Object stores: named, immutable byte objects written once as a stream and read back through
// a URL. Two kinds: a local folder (local_store.hpp) and Azure Blob Storage
// (azure_blob.hpp). Used by download-dir-zip's asynchronous archives and meant for upload-style
// code in general.
#pragma once

#include "shared/http/client.hpp"
#include "shared/log/logger.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace shared::store {

/// An object being written. Bytes are appended with write(); commit() makes the object visible
/// under its name at once and in full (a reader never sees part of an object). Destroying an
/// uncommitted writer abandons the object: nothing appears under the name (local: the .part
/// file is removed; Azure: the uncommitted blocks are left for the service's garbage
/// collection, 7 days). Errors throw error::IoError (local) or http::HttpStatusError /
/// http::NetworkError (remote), naming the object.
class ObjectWriter {
public:
  virtual ~ObjectWriter() = default;
  /// Appends `size` bytes.
  virtual void write(const char* data, std::size_t size) = 0;
  /// Finishes the object; afterwards write() and commit() must not be called.
  virtual void commit() = 0;
  /// Bytes written so far.
  virtual std::uint64_t size() const = 0;
};

/// A place for named objects. Names are relative, '/'-separated, of letters, digits and
/// `._-` (check_object_name()); e.g. "<job id>.zip". Implementations are safe to use from
/// several threads when each thread writes its own objects.
class ObjectStore {
public:
  virtual ~ObjectStore() = default;

  /// Starts writing object `name` (replacing an existing one when committed). Throws
  /// error::UsageError for a bad name.
  virtual std::unique_ptr<ObjectWriter> create(const std::string& name) = 0;

  /// A URL a client can GET the object from for at least `valid_for` (Azure: a service SAS
  /// that expires then; local: a path on the service that serves the folder, without expiry).
  /// Does not check that the object exists.
  virtual std::string read_url(const std::string& name, std::chrono::seconds valid_for) = 0;

  /// Deletes the object; false when there was none.
  virtual bool remove(const std::string& name) = 0;

  /// Whether the object exists (committed).
  virtual bool exists(const std::string& name) = 0;

  /// The object's file when the store is a local folder (for a service that serves it with
  /// Range), else nullopt.
  virtual std::optional<std::string> local_path(const std::string& name) const = 0;

  /// For logs: the kind and place, without secrets (e.g. "azblob://account/container").
  virtual std::string describe() const = 0;
};

/// Why `name` cannot name an object, or nullopt: non-empty, at most 1,024 bytes, segments of
/// [A-Za-z0-9._-] separated by single '/', no "." or ".." segment, no leading or trailing '/'.
std::optional<std::string> check_object_name(const std::string& name);

/// What make_store() needs besides the specification.
struct StoreContext {
  http::ClientOptions http;      ///< for remote stores (retries, timeouts, TLS, proxies)
  log::Logger* logger = nullptr; ///< required for remote stores; secrets are registered
  log::EnvLookup env;            ///< for credentials (AZURE_STORAGE_KEY …); empty: process
  std::string local_url_base = "/downloads/"; ///< read_url() prefix of a local store
};

/// A store from its specification (the --store input):
///   - a folder path or file:///path: a local folder store (created when missing);
///   - azblob://<account>/<container>[/<prefix>][?endpoint=<url>]: Azure Blob Storage with
///     the key from AZURE_STORAGE_KEY or a SAS token from AZURE_STORAGE_SAS (see
///     azure_blob.hpp for the whole form).
/// Throws error::UsageError naming --store when the specification or its credentials are bad.
std::unique_ptr<ObjectStore> make_store(const std::string& spec, const StoreContext& context);

} // namespace shared::store
