# Script mode: cmake -DINPUTS=<file>[::<file>...] -DOUTPUT=<cpp> -DSYMBOL=<name> -P embed-text.cmake
# Writes the files' bytes (several are joined by a "\n---\n" YAML document separator) as one
# string literal of \x escapes, so that no byte (quotes, backslashes, UTF-8) can break it.
string(REPLACE "::" ";" inputs "${INPUTS}")
set(escaped "")
set(separator "")
foreach(input IN LISTS inputs)
  file(READ "${input}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" part "${hex}")
  string(APPEND escaped "${separator}${part}")
  set(separator "\\n---\\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUTS}; do not edit.\n"
  "extern const char ${SYMBOL}[];\n"
  "const char ${SYMBOL}[] = \"${escaped}\";\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
