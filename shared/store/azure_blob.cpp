#include "shared/store/azure_blob.hpp"

#include "shared/error/error.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/url.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/Exception.h>
#include <Poco/String.h>
#include <Poco/Timestamp.h>
#include <Poco/URI.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

namespace shared::store::azure {
namespace {

using error::UsageError;

// Characters percent-encoded in query values besides those Poco always encodes.
constexpr const char* k_reserved_in_query = "!#$&'()*+,/:;=?@[]";

std::string encode_query_value(const std::string& value) {
  std::string out;
  Poco::URI::encode(value, k_reserved_in_query, out);
  return out;
}

std::string base64_encode(const std::string& bytes) {
  std::ostringstream out;
  Poco::Base64Encoder encoder(out);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  encoder.close();
  return out.str();
}

std::string base64_decode(const std::string& text) {
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::string bytes((std::istreambuf_iterator<char>(decoder)), std::istreambuf_iterator<char>());
  return bytes;
}

bool valid_container(const std::string& name) {
  if (name.size() < 3 || name.size() > 63 || name.front() == '-' || name.back() == '-' ||
      name.find("--") != std::string::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string header_value(const std::map<std::string, std::string>& headers,
                         const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (Poco::icompare(key, name) == 0) {
      return value;
    }
  }
  return "";
}

std::string query_string(const std::map<std::string, std::string>& query) {
  std::string out;
  for (const auto& [name, value] : query) {
    out += (out.empty() ? "" : "&") + name + "=" + encode_query_value(value);
  }
  return out;
}

// The block ID of block `index`: base64 of 15 bytes, so every ID has the same length (20
// characters) and no padding, as Put Block requires of the IDs of one blob.
std::string block_id(std::size_t index) {
  char text[16];
  std::snprintf(text, sizeof text, "blk-%011zu", index);
  return base64_encode(std::string(text, 15));
}

std::string content_type_for(const std::string& name) {
  const auto ends_with = [&](const char* suffix) {
    const std::string s(suffix);
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return ends_with(".zip") ? "application/zip" : "application/octet-stream";
}

// One blob being uploaded: blocks of k_block_size from the writer's sink, then the list.
class BlobWriter : public ObjectWriter {
public:
  BlobWriter(AzureBlobStore& store, std::string name)
      : m_store(store), m_name(std::move(name)), m_resource("/" + store.blob_name(m_name)),
        m_client(store.http_options(), store.logger()) {
    m_block.reserve(k_block_size);
  }

  void write(const char* data, std::size_t size) override {
    while (size > 0) {
      const std::size_t take = std::min(size, k_block_size - m_block.size());
      m_block.append(data, take);
      data += take;
      size -= take;
      m_size += take;
      if (m_block.size() == k_block_size) {
        put_block();
      }
    }
  }

  void commit() override {
    if (!m_block.empty()) {
      put_block();
    }
    std::map<std::string, std::string> headers = {
        {"x-ms-blob-content-type", content_type_for(m_name)}};
    if (m_ids.empty()) { // an empty object: Put Blob with no body
      headers["x-ms-blob-type"] = "BlockBlob";
      m_store.call(m_client, "PUT", m_resource, {}, "", headers);
      return;
    }
    std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>";
    for (const auto& id : m_ids) {
      xml += "<Latest>" + id + "</Latest>";
    }
    xml += "</BlockList>";
    headers["Content-Type"] = "application/xml";
    m_store.call(m_client, "PUT", m_resource, {{"comp", "blocklist"}}, xml, headers);
  }

  std::uint64_t size() const override { return m_size; }

private:
  void put_block() {
    const std::string id = block_id(m_ids.size());
    m_store.call(m_client, "PUT", m_resource, {{"blockid", id}, {"comp", "block"}}, m_block, {});
    m_ids.push_back(id);
    m_block.clear();
  }

  AzureBlobStore& m_store;
  std::string m_name;
  std::string m_resource;
  http::Client m_client;
  std::string m_block;
  std::vector<std::string> m_ids;
  std::uint64_t m_size = 0;
};

} // namespace

BlobLocation parse_azblob_url(const std::string& spec) {
  const std::string scheme = "azblob://";
  if (spec.compare(0, scheme.size(), scheme) != 0) {
    throw UsageError("--store: \"" + spec + "\" is not an azblob:// URL");
  }
  std::string rest = spec.substr(scheme.size());
  std::string query;
  if (const auto mark = rest.find('?'); mark != std::string::npos) {
    query = rest.substr(mark + 1);
    rest.resize(mark);
  }
  BlobLocation location;
  const auto first = rest.find('/');
  location.account = rest.substr(0, first);
  std::string path = first == std::string::npos ? "" : rest.substr(first + 1);
  const auto second = path.find('/');
  location.container = path.substr(0, second);
  location.prefix = second == std::string::npos ? "" : path.substr(second + 1);
  while (!location.prefix.empty() && location.prefix.back() == '/') {
    location.prefix.pop_back();
  }
  const bool account_ok = !location.account.empty() &&
                          std::all_of(location.account.begin(), location.account.end(), [](char c) {
                            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                          });
  if (!account_ok) {
    throw UsageError("--store: \"" + spec +
                     "\" needs an account name (lowercase letters and digits): "
                     "azblob://<account>/<container>[/<prefix>]");
  }
  if (!valid_container(location.container)) {
    throw UsageError("--store: \"" + spec + "\": the container \"" + location.container +
                     "\" must be 3-63 lowercase letters, digits and single '-'");
  }
  if (!location.prefix.empty()) {
    if (const auto problem = check_object_name(location.prefix)) {
      throw UsageError("--store: the prefix \"" + location.prefix + "\": " + *problem);
    }
  }
  location.endpoint = "https://" + location.account + ".blob.core.windows.net";
  std::istringstream parameters(query);
  for (std::string parameter; std::getline(parameters, parameter, '&');) {
    const auto equals = parameter.find('=');
    const std::string name = parameter.substr(0, equals);
    const std::string value =
        equals == std::string::npos ? "" : http::decode_percent(parameter.substr(equals + 1));
    if (name == "endpoint") {
      Poco::URI uri;
      try {
        uri = Poco::URI(value);
      } catch (const Poco::Exception& e) {
        throw UsageError("--store: endpoint \"" + value + "\" is not a URL: " + e.message());
      }
      if ((uri.getScheme() != "http" && uri.getScheme() != "https") || uri.getHost().empty() ||
          !uri.getRawQuery().empty()) {
        throw UsageError("--store: endpoint \"" + value +
                         "\" must be an http:// or https:// URL without query");
      }
      location.endpoint = value;
      while (!location.endpoint.empty() && location.endpoint.back() == '/') {
        location.endpoint.pop_back();
      }
    } else if (!name.empty()) {
      throw UsageError("--store: unknown parameter \"" + name + "\" in \"" + spec +
                       "\" (known: endpoint)");
    }
  }
  return location;
}

std::string shared_key_string_to_sign(const std::string& account, const SignedRequest& request) {
  std::string content_length = header_value(request.headers, "Content-Length");
  if (content_length == "0") {
    content_length.clear();
  }
  std::string text = request.method + "\n";
  for (const char* name : {"Content-Encoding", "Content-Language"}) {
    text += header_value(request.headers, name) + "\n";
  }
  text += content_length + "\n";
  for (const char* name : {"Content-MD5", "Content-Type", "Date", "If-Modified-Since", "If-Match",
                           "If-None-Match", "If-Unmodified-Since", "Range"}) {
    text += header_value(request.headers, name) + "\n";
  }
  std::map<std::string, std::string> ms_headers;
  for (const auto& [name, value] : request.headers) {
    const std::string lower = Poco::toLower(name);
    if (lower.compare(0, 5, "x-ms-") == 0) {
      ms_headers[lower] = Poco::trim(value);
    }
  }
  for (const auto& [name, value] : ms_headers) {
    text += name + ":" + value + "\n";
  }
  text += "/" + account + request.path;
  std::map<std::string, std::string> query;
  for (const auto& [name, value] : request.query) {
    query[Poco::toLower(name)] = value;
  }
  for (const auto& [name, value] : query) {
    text += "\n" + name + ":" + value;
  }
  return text;
}

std::string hmac_sha256_base64(const std::string& key, const std::string& text) {
  std::string secret;
  try {
    secret = base64_decode(key);
  } catch (const Poco::Exception&) {
    throw UsageError("AZURE_STORAGE_KEY: the account key is not base64");
  }
  if (secret.empty()) {
    throw UsageError("AZURE_STORAGE_KEY: the account key is empty or not base64");
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest,
           &length) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return base64_encode(std::string(reinterpret_cast<const char*>(digest), length));
}

std::string shared_key_authorization(const std::string& account, const std::string& key,
                                     const SignedRequest& request) {
  return "SharedKey " + account + ":" +
         hmac_sha256_base64(key, shared_key_string_to_sign(account, request));
}

std::string iso8601(std::time_t time) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp::fromEpochTime(time),
                                         "%Y-%m-%dT%H:%M:%SZ");
}

std::string service_sas_string_to_sign(const std::string& account, const std::string& container,
                                       const std::string& blob, const BlobSas& sas) {
  return sas.permissions + "\n" +                                   // sp
         "\n" +                                                     // st
         iso8601(sas.expiry) + "\n" +                               // se
         "/blob/" + account + "/" + container + "/" + blob + "\n" + // canonicalized resource
         "\n" +                                                     // si
         "\n" +                                                     // sip
         "\n" +                                                     // spr
         sas.version + "\n" +                                       // sv
         "b\n" +                                                    // sr
         "\n" +                                                     // snapshot time
         "\n" +                                                     // ses
         "\n\n\n\n";                                                // rscc rscd rsce rscl rsct
}

std::string service_sas_query(const std::string& account, const std::string& key,
                              const std::string& container, const std::string& blob,
                              const BlobSas& sas) {
  const std::string signature =
      hmac_sha256_base64(key, service_sas_string_to_sign(account, container, blob, sas));
  return "sv=" + sas.version + "&sr=b&sp=" + encode_query_value(sas.permissions) +
         "&se=" + encode_query_value(iso8601(sas.expiry)) + "&sig=" + encode_query_value(signature);
}

AzureBlobStore::AzureBlobStore(BlobLocation location, Credentials credentials,
                               http::ClientOptions http, log::Logger& logger)
    : m_location(std::move(location)), m_credentials(std::move(credentials)),
      m_http(std::move(http)), m_logger(logger) {
  if (!m_credentials.sas.empty() && m_credentials.sas.front() == '?') {
    m_credentials.sas.erase(0, 1);
  }
  if (m_credentials.key.empty() == m_credentials.sas.empty()) {
    throw UsageError("--store " + describe() +
                     ": set AZURE_STORAGE_KEY (the account key) or AZURE_STORAGE_SAS (a SAS "
                     "token), not both or neither");
  }
  m_logger.add_secret(m_credentials.key);
  m_logger.add_secret(m_credentials.sas);
  if (!m_credentials.key.empty()) {
    hmac_sha256_base64(m_credentials.key, ""); // a malformed key fails now, not at upload
  }
  m_endpoint_path = Poco::URI(m_location.endpoint).getPath();
  if (m_endpoint_path == "/") {
    m_endpoint_path.clear();
  }
}

AzureBlobStore::~AzureBlobStore() = default;

std::string AzureBlobStore::describe() const {
  return "azblob://" + m_location.account + "/" + m_location.container +
         (m_location.prefix.empty() ? "" : "/" + m_location.prefix);
}

std::string AzureBlobStore::blob_name(const std::string& name) const {
  if (const auto problem = check_object_name(name)) {
    throw UsageError("object name \"" + name + "\": " + *problem);
  }
  return m_location.container + "/" +
         (m_location.prefix.empty() ? name : m_location.prefix + "/" + name);
}

std::string AzureBlobStore::blob_url(const std::string& name) const {
  return m_location.endpoint + "/" + blob_name(name);
}

http::Response
AzureBlobStore::call(http::Client& client, const std::string& method, const std::string& resource,
                     const std::map<std::string, std::string>& query, std::string_view body,
                     std::map<std::string, std::string> headers, http::BodySink* sink) {
  headers["x-ms-date"] =
      Poco::DateTimeFormatter::format(Poco::Timestamp(), Poco::DateTimeFormat::HTTP_FORMAT);
  headers["x-ms-version"] = k_api_version;
  std::string url = m_location.endpoint + resource;
  std::string parameters = query_string(query);
  if (!m_credentials.sas.empty()) {
    parameters += (parameters.empty() ? "" : "&") + m_credentials.sas;
  }
  if (!parameters.empty()) {
    url += "?" + parameters;
  }
  const bool has_body = method != "HEAD" && method != "GET";
  if (m_credentials.sas.empty()) {
    SignedRequest signed_request{method, m_endpoint_path + resource, query, headers};
    if (has_body) {
      signed_request.headers["Content-Length"] = std::to_string(body.size());
    }
    headers["Authorization"] =
        shared_key_authorization(m_location.account, m_credentials.key, signed_request);
  }
  http::Headers list(headers.begin(), headers.end());
  if (method == "HEAD") {
    return client.head(url, list);
  }
  return client.send(method, url, body, list, sink);
}

void AzureBlobStore::ensure_container() {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (m_container_checked) {
    return;
  }
  if (!m_client) {
    m_client = std::make_unique<http::Client>(m_http, m_logger);
  }
  try {
    call(*m_client, "PUT", "/" + m_location.container, {{"restype", "container"}}, "", {});
    m_logger.info("Created the container " + describe());
  } catch (const http::HttpStatusError& e) {
    if (e.status() != 409 && e.status() != 403) { // 409: it exists; 403: not ours to create
      throw;
    }
  }
  m_container_checked = true;
}

std::unique_ptr<ObjectWriter> AzureBlobStore::create(const std::string& name) {
  blob_name(name); // checks the name
  ensure_container();
  return std::make_unique<BlobWriter>(*this, name);
}

std::string AzureBlobStore::read_url(const std::string& name, std::chrono::seconds valid_for) {
  const std::string url = blob_url(name);
  if (!m_credentials.sas.empty()) {
    return url + "?" + m_credentials.sas;
  }
  BlobSas sas;
  sas.expiry = std::time(nullptr) + static_cast<std::time_t>(valid_for.count());
  const std::string blob = m_location.prefix.empty() ? name : m_location.prefix + "/" + name;
  return url + "?" +
         service_sas_query(m_location.account, m_credentials.key, m_location.container, blob, sas);
}

bool AzureBlobStore::remove(const std::string& name) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!m_client) {
    m_client = std::make_unique<http::Client>(m_http, m_logger);
  }
  try {
    call(*m_client, "DELETE", "/" + blob_name(name), {}, "", {});
    return true;
  } catch (const http::HttpStatusError& e) {
    if (e.status() == 404) {
      return false;
    }
    throw;
  }
}

bool AzureBlobStore::exists(const std::string& name) {
  std::lock_guard<std::mutex> lock(m_mutex);
  if (!m_client) {
    m_client = std::make_unique<http::Client>(m_http, m_logger);
  }
  try {
    call(*m_client, "HEAD", "/" + blob_name(name), {}, "", {});
    return true;
  } catch (const http::HttpStatusError& e) {
    if (e.status() == 404) {
      return false;
    }
    throw;
  }
}

} // namespace shared::store::azure
