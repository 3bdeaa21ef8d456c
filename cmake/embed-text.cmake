# Script mode: cmake -DINPUT=<file> -DOUTPUT=<cpp> -DSYMBOL=<name> -P embed-text.cmake
# Writes the file's bytes as one string literal of \x escapes, so that no byte (quotes,
# backslashes, UTF-8) can break it.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" escaped "${hex}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT}; do not edit.\n"
  "extern const char ${SYMBOL}[];\n"
  "const char ${SYMBOL}[] = \"${escaped}\";\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
