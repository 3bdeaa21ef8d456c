# embed_text(<target> <symbol> <file>...): compiles the files into <target> as
#   extern const char <symbol>[];   (NUL-terminated, in the global namespace)
# several files joined as YAML documents ("---"). Rebuilt whenever one of them changes.
function(embed_text target symbol)
  set(files "")
  foreach(file IN LISTS ARGN)
    get_filename_component(abs "${file}" ABSOLUTE)
    list(APPEND files "${abs}")
  endforeach()
  list(JOIN files "::" joined)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded/${symbol}.cpp")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} "-DINPUTS=${joined}" -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed-text.cmake"
    DEPENDS ${files} "${PROJECT_SOURCE_DIR}/cmake/embed-text.cmake"
    COMMENT "Embedding ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()

# embed_manifest(<target> <task> [FRAGMENTS <name>...]): the task's manifest as k_task_manifest,
# and as k_common_manifest the inputs every task shares (task-manifests/common.yml) followed by
# the named fragments (task-manifests/<name>.yml, e.g. http: connection, retry and
# authentication inputs). See shared/task/manifest.hpp.
function(embed_manifest target task)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "FRAGMENTS")
  set(common "${PROJECT_SOURCE_DIR}/task-manifests/common.yml")
  foreach(fragment IN LISTS arg_FRAGMENTS)
    list(APPEND common "${PROJECT_SOURCE_DIR}/task-manifests/${fragment}.yml")
  endforeach()
  embed_text(${target} k_task_manifest "${PROJECT_SOURCE_DIR}/task-manifests/${task}.yml")
  embed_text(${target} k_common_manifest ${common})
endfunction()
