# Script mode: cmake -DINPUT=<file> -DOUTPUT=<cpp> -DSYMBOL=<name> -P embed-text.cmake
# Writes the file's bytes as a char array so no delimiter or escaping can break it.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT}; do not edit.\n"
  "extern const char ${SYMBOL}[];\n"
  "const char ${SYMBOL}[] = {${bytes} 0x00};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
