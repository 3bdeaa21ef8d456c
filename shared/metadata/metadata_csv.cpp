#include "shared/metadata/metadata_csv.hpp"

#include "shared/fs/relative_path.hpp"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace shared::metadata {
namespace {

bool needs_quotes(std::string_view field) {
  return field.find_first_of(",\"\r\n") != std::string_view::npos;
}

void append_field(std::string& out, std::string_view field) {
  if (!needs_quotes(field)) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char c : field) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
}

bool less_by_path(const Entry& a, const Entry& b) {
  return a.path < b.path;
}

// A record as read: its fields and the line it starts on.
struct Record {
  std::vector<std::string> fields;
  std::size_t line = 0;
};

// Splits RFC 4180 text into records, tolerating what upstream wrote (no quoting, CRLF,
// quotes inside unquoted fields).
class Tokenizer {
public:
  explicit Tokenizer(std::string_view text) : m_text(text) {
    if (m_text.substr(0, 3) == "\xEF\xBB\xBF") {
      m_text.remove_prefix(3);
    }
  }

  // Reads the next non-empty record; false at end of text.
  bool next(Record& record) {
    while (m_pos < m_text.size()) {
      record.fields.clear();
      record.line = m_line;
      if (at_line_end()) { // an empty line
        skip_line_end();
        continue;
      }
      for (;;) {
        record.fields.push_back(read_field(record.line));
        if (m_pos < m_text.size() && m_text[m_pos] == ',') {
          ++m_pos;
          continue;
        }
        skip_line_end();
        return true;
      }
    }
    return false;
  }

private:
  bool at_line_end() const {
    return m_pos >= m_text.size() || m_text[m_pos] == '\n' ||
           (m_text[m_pos] == '\r' && m_pos + 1 < m_text.size() && m_text[m_pos + 1] == '\n') ||
           (m_text[m_pos] == '\r' && m_pos + 1 == m_text.size());
  }

  void skip_line_end() {
    if (m_pos < m_text.size() && m_text[m_pos] == '\r') {
      ++m_pos;
    }
    if (m_pos < m_text.size() && m_text[m_pos] == '\n') {
      ++m_pos;
      ++m_line;
    }
  }

  std::string read_field(std::size_t record_line) {
    std::string field;
    if (m_pos < m_text.size() && m_text[m_pos] == '"') {
      ++m_pos;
      for (;;) {
        if (m_pos >= m_text.size()) {
          throw ParseError(record_line, "quoted field is not closed");
        }
        const char c = m_text[m_pos++];
        if (c == '"') {
          if (m_pos < m_text.size() && m_text[m_pos] == '"') {
            field.push_back('"');
            ++m_pos;
            continue;
          }
          if (!(m_pos >= m_text.size() || m_text[m_pos] == ',' || at_line_end())) {
            throw ParseError(record_line, "unexpected character after a closing quote");
          }
          return field;
        }
        if (c == '\n') {
          ++m_line;
        }
        field.push_back(c);
      }
    }
    // Unquoted: up to the next comma or line end (a lone CR is part of the field), in one go.
    const std::size_t start = m_pos;
    for (; m_pos < m_text.size(); ++m_pos) {
      const char c = m_text[m_pos];
      if (c == ',' || c == '\n' || (c == '\r' && at_line_end())) {
        break;
      }
    }
    field.assign(m_text, start, m_pos - start);
    return field;
  }

  std::string_view m_text;
  std::size_t m_pos = 0;
  std::size_t m_line = 1;
};

} // namespace

const Entry* Metadata::find(std::string_view path) const {
  const auto it = std::lower_bound(entries.begin(), entries.end(), path,
                                   [](const Entry& e, std::string_view p) { return e.path < p; });
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

ParseError::ParseError(std::size_t line, const std::string& problem)
    : error::Error(error::ExitCode::usage,
                   std::string(k_file_name) + " line " + std::to_string(line) + ": " + problem),
      m_line(line) {}

std::optional<std::string> unwritable_path_problem(std::string_view path) {
  if (path.find('\\') != std::string_view::npos) {
    return "backslash in path \"" + std::string(path) + "\" (readers take it as a separator)";
  }
  return fs::relative_path_problem(path);
}

std::string to_csv(const std::vector<Entry>& entries) {
  std::vector<const Entry*> sorted;
  sorted.reserve(entries.size());
  for (const Entry& entry : entries) {
    sorted.push_back(&entry);
  }
  const auto by_path = [](const Entry* a, const Entry* b) { return less_by_path(*a, *b); };
  std::sort(sorted.begin(), sorted.end(), by_path);
  std::string out;
  out.reserve(entries.size() * 100);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const Entry& entry = *sorted[i];
    if (auto problem = unwritable_path_problem(entry.path)) {
      throw std::invalid_argument("cannot write metadata: " + *problem);
    }
    if (i > 0 && sorted[i - 1]->path == entry.path) {
      throw std::invalid_argument("cannot write metadata: duplicate path \"" + entry.path + "\"");
    }
    append_field(out, entry.path);
    out.push_back(',');
    hash::append_hex(out, entry.sha256);
    out.push_back('\n');
  }
  return out;
}

Metadata parse_csv(std::string_view text) {
  struct Parsed {
    Entry entry;
    std::size_t line;
  };
  std::vector<Parsed> parsed;
  Tokenizer tokenizer(text);
  Record record;
  while (tokenizer.next(record)) {
    if (record.fields.size() != 2) {
      throw ParseError(record.line, "expected 2 fields (path,sha256), found " +
                                        std::to_string(record.fields.size()));
    }
    std::string path = std::move(record.fields[0]);
    std::replace(path.begin(), path.end(), '\\', '/');
    if (auto problem = fs::relative_path_problem(path)) {
      throw ParseError(record.line, *problem);
    }
    const auto digest = hash::from_hex(record.fields[1]);
    if (!digest) {
      throw ParseError(record.line, "hash \"" + record.fields[1] + "\" is not 64 hex digits");
    }
    parsed.push_back({Entry{std::move(path), *digest}, record.line});
  }
  const auto by_path = [](const Parsed& a, const Parsed& b) { return a.entry.path < b.entry.path; };
  std::stable_sort(parsed.begin(), parsed.end(), by_path);
  for (std::size_t i = 1; i < parsed.size(); ++i) {
    if (parsed[i - 1].entry.path == parsed[i].entry.path) { // stable: i - 1 came first
      throw ParseError(parsed[i].line, "duplicate path \"" + parsed[i].entry.path +
                                           "\" (first on line " +
                                           std::to_string(parsed[i - 1].line) + ")");
    }
  }
  Metadata metadata;
  metadata.entries.reserve(parsed.size());
  for (auto& item : parsed) {
    metadata.entries.push_back(std::move(item.entry));
  }
  return metadata;
}

Metadata read_csv_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw error::IoError(error::system_message("cannot open " + path, errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw error::IoError("cannot read " + path);
  }
  return parse_csv(text.str());
}

} // namespace shared::metadata
