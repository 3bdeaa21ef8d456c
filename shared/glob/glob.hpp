// Glob patterns over relative '/' paths, as CI artifact tasks take them (itemPattern,
// include/exclude).
//
//   *      any characters except '/'
//   **     any characters, '/' included; "**/" also matches nothing, so "**/x" matches "x"
//   ?      one character except '/'
//   {a,b}  either alternative (nested braces allowed)
//   \c     the character c itself
// Matching is bytewise and case-sensitive; dot files are not special.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace shared::glob {

/// One compiled pattern. Throws std::invalid_argument for an unbalanced brace or a
/// trailing backslash.
class Pattern {
public:
  explicit Pattern(std::string_view pattern);

  /// Whether the whole of `path` matches. O(path length × pattern length); O(1) for a
  /// pattern that matches every path ("**").
  bool matches(std::string_view path) const;

  const std::string& text() const { return m_text; }

  /// One step of the compiled pattern.
  struct Token {
    enum Kind { literal, any_char, star, globstar, globstar_slash } kind;
    char c;
  };

private:
  std::string m_text;
  std::vector<std::vector<Token>> m_alternatives; // one per brace expansion
  bool m_everything = false;                      // one alternative, a lone "**"
};

/// Ordered includes and excludes: a path is selected when it matches at least one include
/// and no exclude.
class PatternSet {
public:
  PatternSet() = default;
  PatternSet(const std::vector<std::string>& includes, const std::vector<std::string>& excludes);

  /// From multi-line input: each non-empty line is a pattern; a line starting with '!' is an
  /// exclude. With no include line, everything ("**") is included. Lines are trimmed.
  static PatternSet from_lines(const std::vector<std::string>& lines);

  bool matches(std::string_view path) const;

private:
  std::vector<Pattern> m_includes;
  std::vector<Pattern> m_excludes;
};

} // namespace shared::glob
