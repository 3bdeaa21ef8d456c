# embed_text(<target> <symbol> <file>): compiles <file> into <target> as
#   extern const char <symbol>[];   (NUL-terminated, in the global namespace)
# The generated source is rebuilt whenever <file> changes.
function(embed_text target symbol file)
  get_filename_component(abs "${file}" ABSOLUTE)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded/${symbol}.cpp")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND ${CMAKE_COMMAND} -DINPUT=${abs} -DOUTPUT=${out} -DSYMBOL=${symbol}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed-text.cmake"
    DEPENDS "${abs}" "${PROJECT_SOURCE_DIR}/cmake/embed-text.cmake"
    COMMENT "Embedding ${file}")
  target_sources(${target} PRIVATE "${out}")
endfunction()

# embed_manifest(<target> <task>): the task's manifest as k_task_manifest and the inputs
# every task shares as k_common_manifest (see shared/task/manifest.hpp).
function(embed_manifest target task)
  embed_text(${target} k_task_manifest "${PROJECT_SOURCE_DIR}/task-manifests/${task}.yml")
  embed_text(${target} k_common_manifest "${PROJECT_SOURCE_DIR}/task-manifests/common.yml")
endfunction()
