#include "shared/glob/glob.hpp"

#include <stdexcept>

namespace shared::glob {
namespace {

using Token = Pattern::Token;

// Index of the brace closing the one at `open`, or npos.
std::size_t matching_brace(std::string_view text, std::size_t open) {
  int depth = 0;
  for (std::size_t i = open; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '{') {
      ++depth;
    } else if (text[i] == '}' && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Splits the inside of a brace pair at its top-level commas.
std::vector<std::string_view> split_alternatives(std::string_view inside) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < inside.size(); ++i) {
    if (inside[i] == '\\') {
      ++i;
    } else if (inside[i] == '{') {
      ++depth;
    } else if (inside[i] == '}') {
      --depth;
    } else if (inside[i] == ',' && depth == 0) {
      parts.push_back(inside.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(inside.substr(start));
  return parts;
}

void expand_braces(std::string_view text, std::vector<std::string>& out) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
      continue;
    }
    if (text[i] == '}') {
      throw std::invalid_argument("unbalanced '}' in pattern \"" + std::string(text) + "\"");
    }
    if (text[i] != '{') {
      continue;
    }
    const std::size_t close = matching_brace(text, i);
    if (close == std::string_view::npos) {
      throw std::invalid_argument("unbalanced '{' in pattern \"" + std::string(text) + "\"");
    }
    const std::string_view prefix = text.substr(0, i);
    const std::string_view suffix = text.substr(close + 1);
    for (std::string_view alternative : split_alternatives(text.substr(i + 1, close - i - 1))) {
      std::string combined(prefix);
      combined.append(alternative).append(suffix);
      expand_braces(combined, out);
    }
    return;
  }
  out.emplace_back(text);
}

std::vector<Token> compile(std::string_view text) {
  std::vector<Token> tokens;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size()) {
        throw std::invalid_argument("trailing backslash in pattern \"" + std::string(text) + "\"");
      }
      tokens.push_back({Token::literal, text[++i]});
    } else if (c == '?') {
      tokens.push_back({Token::any_char, 0});
    } else if (c == '*' && i + 1 < text.size() && text[i + 1] == '*') {
      ++i;
      while (i + 1 < text.size() && text[i + 1] == '*') {
        ++i; // "***" is "**"
      }
      if (i + 1 < text.size() && text[i + 1] == '/') {
        ++i;
        tokens.push_back({Token::globstar_slash, 0});
      } else {
        tokens.push_back({Token::globstar, 0});
      }
    } else if (c == '*') {
      tokens.push_back({Token::star, 0});
    } else {
      tokens.push_back({Token::literal, c});
    }
  }
  return tokens;
}

// Simulates the pattern as an NFA whose states are token positions: linear in path length.
bool run(const std::vector<Token>& tokens, std::string_view path) {
  const std::size_t n = tokens.size();
  std::vector<char> current(n + 1, 0);
  std::vector<char> next(n + 1, 0);
  // Tokens that can match nothing; "**/" only where a segment starts.
  auto close = [&](std::vector<char>& states, bool segment_start) {
    for (std::size_t i = 0; i < n; ++i) {
      const Token::Kind kind = tokens[i].kind;
      if (states[i] && (kind == Token::star || kind == Token::globstar ||
                        (kind == Token::globstar_slash && segment_start))) {
        states[i + 1] = 1;
      }
    }
  };
  current[0] = 1;
  close(current, true);
  for (const char c : path) {
    std::fill(next.begin(), next.end(), 0);
    bool alive = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (!current[i]) {
        continue;
      }
      const Token& token = tokens[i];
      switch (token.kind) {
      case Token::literal:
        if (token.c == c) {
          next[i + 1] = alive = true;
        }
        break;
      case Token::any_char:
        if (c != '/') {
          next[i + 1] = alive = true;
        }
        break;
      case Token::star:
        if (c != '/') {
          next[i] = alive = true;
        }
        break;
      case Token::globstar:
        next[i] = alive = true;
        break;
      case Token::globstar_slash:
        next[i] = alive = true;
        if (c == '/') {
          next[i + 1] = 1;
        }
        break;
      }
    }
    if (!alive) {
      return false;
    }
    close(next, c == '/');
    current.swap(next);
  }
  return current[n] != 0;
}

std::string trim(const std::string& line) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) {
    return {};
  }
  const auto last = line.find_last_not_of(" \t\r");
  return line.substr(first, last - first + 1);
}

} // namespace

Pattern::Pattern(std::string_view pattern) : m_text(pattern) {
  std::vector<std::string> expanded;
  expand_braces(pattern, expanded);
  for (const std::string& alternative : expanded) {
    m_alternatives.push_back(compile(alternative));
  }
  m_everything = m_alternatives.size() == 1 && m_alternatives.front().size() == 1 &&
                 m_alternatives.front().front().kind == Token::globstar;
}

bool Pattern::matches(std::string_view path) const {
  if (m_everything) {
    return true;
  }
  for (const auto& tokens : m_alternatives) {
    if (run(tokens, path)) {
      return true;
    }
  }
  return false;
}

PatternSet::PatternSet(const std::vector<std::string>& includes,
                       const std::vector<std::string>& excludes) {
  for (const auto& text : includes) {
    m_includes.emplace_back(text);
  }
  for (const auto& text : excludes) {
    m_excludes.emplace_back(text);
  }
}

PatternSet PatternSet::from_lines(const std::vector<std::string>& lines) {
  std::vector<std::string> includes;
  std::vector<std::string> excludes;
  for (const auto& raw : lines) {
    const std::string line = trim(raw);
    if (line.empty()) {
      continue;
    }
    if (line.front() == '!') {
      excludes.push_back(line.substr(1));
    } else {
      includes.push_back(line);
    }
  }
  if (includes.empty()) {
    includes.emplace_back("**");
  }
  return PatternSet(includes, excludes);
}

bool PatternSet::matches(std::string_view path) const {
  bool included = false;
  for (const Pattern& pattern : m_includes) {
    if (pattern.matches(path)) {
      included = true;
      break;
    }
  }
  if (!included) {
    return false;
  }
  for (const Pattern& pattern : m_excludes) {
    if (pattern.matches(path)) {
      return false;
    }
  }
  return true;
}

} // namespace shared::glob
