#include "shared/source/drs.hpp"

#include "shared/error/error.hpp"
#include "shared/http/errors.hpp"
#include "shared/http/retry.hpp"
#include "shared/http/url.hpp"

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/String.h>

#include <chrono>
#include <sstream>

namespace shared::source {
namespace {

// Captures the status and headers of a response as well as its body.
class AnswerSink : public http::StringSink {
public:
  AnswerSink() : http::StringSink(16u << 20) {}
  void start(const http::Response& response) override { m_response = response; }
  const http::Response& response() const { return m_response; }

private:
  http::Response m_response;
};

} // namespace

DrsObject parse_drs_object(const std::string& json) {
  DrsObject object;
  try {
    const auto root = Poco::JSON::Parser().parse(json).extract<Poco::JSON::Object::Ptr>();
    object.id = root->optValue<std::string>("id", "");
    object.name = root->optValue<std::string>("name", "");
    if (!root->has("size")) {
      throw http::ProtocolError("DRS object " + object.id + " has no size");
    }
    object.size = root->getValue<Poco::UInt64>("size");
    if (const auto checksums = root->getArray("checksums")) {
      for (std::size_t i = 0; i < checksums->size(); ++i) {
        const auto checksum = checksums->getObject(static_cast<unsigned>(i));
        const std::string type = Poco::toLower(checksum->optValue<std::string>("type", ""));
        if (type == "sha-256" || type == "sha256") {
          object.sha256 = hash::from_hex(checksum->optValue<std::string>("checksum", ""));
          if (!object.sha256) {
            throw http::ProtocolError("DRS object " + object.id +
                                      ": its sha-256 checksum is not 64 hex digits");
          }
        }
      }
    }
    if (const auto methods = root->getArray("access_methods")) {
      for (std::size_t i = 0; i < methods->size() && object.access_url.empty(); ++i) {
        const auto method = methods->getObject(static_cast<unsigned>(i));
        const auto url = method ? method->getObject("access_url") : nullptr;
        if (!url) {
          continue; // an access_id would need GET .../access/{access_id}: not offered here
        }
        object.access_url = url->optValue<std::string>("url", "");
        if (const auto headers = url->getArray("headers")) {
          for (std::size_t h = 0; h < headers->size(); ++h) {
            const std::string line = headers->getElement<std::string>(static_cast<unsigned>(h));
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
              object.access_headers.emplace_back(Poco::trim(line.substr(0, colon)),
                                                 Poco::trim(line.substr(colon + 1)));
            }
          }
        }
      }
    }
  } catch (const error::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw http::ProtocolError(std::string("not a DRS object: ") + e.what());
  }
  if (object.access_url.empty()) {
    throw http::ProtocolError("DRS object " + object.id + " has no access_url");
  }
  return object;
}

DrsClient::DrsClient(std::string base, const http::ClientOptions& options, log::Logger& logger)
    : m_base(std::move(base)), m_client(options, logger) {
  while (!m_base.empty() && m_base.back() == '/') {
    m_base.pop_back();
  }
}

std::string DrsClient::object_url(const std::string& id) const {
  return m_base + "/objects/" + http::encode_segment(id);
}

DrsAnswer DrsClient::object(const std::string& id) {
  DrsAnswer answer;
  AnswerSink sink;
  for (int attempt = 0;; ++attempt) {
    try {
      m_client.get(object_url(id), sink);
      break;
    } catch (const http::HttpStatusError& e) {
      // 403 may be a token that was just refreshed: asked once more, then unavailable.
      if (e.status() == 403 && attempt == 0) {
        continue;
      }
      if (e.status() == 403 || e.status() == 404) {
        answer.reason =
            std::to_string(e.status()) + (e.status() == 404 ? " Not Found" : " Forbidden");
        return answer;
      }
      throw;
    }
  }
  if (sink.response().status == 202) {
    const std::string retry_after = sink.response().header("Retry-After");
    const auto seconds =
        retry_after.empty()
            ? std::nullopt
            : http::parse_retry_after(retry_after, std::chrono::system_clock::now());
    if (!seconds) {
      throw http::ProtocolError("DRS object " + id +
                                " is being staged (202) but the service gave no Retry-After");
    }
    answer.state = DrsAnswer::State::staging;
    answer.retry_after = *seconds;
    return answer;
  }
  answer.state = DrsAnswer::State::ready;
  answer.object = parse_drs_object(sink.body());
  if (answer.object->id.empty()) {
    answer.object->id = id;
  }
  return answer;
}

std::string DrsClient::envelope(const std::string& id) {
  const std::string text = m_client.get_text(object_url(id) + "/envelopes", 1u << 20);
  std::istringstream in(text);
  Poco::Base64Decoder decoder(in);
  std::ostringstream out;
  out << decoder.rdbuf();
  if (!decoder.eof() && decoder.fail()) {
    throw http::ProtocolError("the envelope of " + id + " is not base64");
  }
  return out.str();
}

} // namespace shared::source
