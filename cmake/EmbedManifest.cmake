# compile_manifest(<target> <function> <task.yml> [<common.yml>...]): checks the manifest and
# the shared inputs appended to it, and compiles them into <target> as
#   const shared::task::Manifest& <function>();   (in the global namespace)
# by tools/manifest-compiler, so the executable starts without parsing YAML. A manifest that
# fails its checks fails the build. Rebuilt whenever a file or the compiler changes.
function(compile_manifest target function)
  set(files "")
  foreach(file IN LISTS ARGN)
    get_filename_component(abs "${file}" ABSOLUTE)
    list(APPEND files "${abs}")
  endforeach()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/embedded/${function}.cpp")
  file(MAKE_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}/embedded")
  add_custom_command(
    OUTPUT "${out}"
    COMMAND manifest-compiler ${function} ${out} ${files}
    DEPENDS ${files} manifest-compiler
    COMMENT "Compiling the manifest ${function}"
    VERBATIM)
  target_sources(${target} PRIVATE "${out}")
endfunction()

# embed_manifest(<target> <task> [FRAGMENTS <name>...]): the task's manifest as task_manifest(),
# with the inputs every task shares (task-manifests/common.yml) followed by the named fragments
# (task-manifests/<name>.yml, e.g. http: connection, retry and authentication inputs). See
# shared/task/manifest.hpp.
function(embed_manifest target task)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "" "FRAGMENTS")
  set(common "${PROJECT_SOURCE_DIR}/task-manifests/common.yml")
  foreach(fragment IN LISTS arg_FRAGMENTS)
    list(APPEND common "${PROJECT_SOURCE_DIR}/task-manifests/${fragment}.yml")
  endforeach()
  compile_manifest(${target} task_manifest "${PROJECT_SOURCE_DIR}/task-manifests/${task}.yml"
                   ${common})
endfunction()
