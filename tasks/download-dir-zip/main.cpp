// download-dir-zip: writes a folder of an artifact as one ZIP stream; `download-dir-zip serve`
// serves folders as archives over HTTP. See --help and serve --help.
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"
#include "tasks/download-dir-zip/serve.hpp"

extern const char k_task_manifest[];
extern const char k_common_manifest[];
extern const char k_serve_manifest[];
extern const char k_serve_common_manifest[];

int main(int argc, char** argv) {
  // A later `worker` subcommand (asynchronous zip jobs) is one more entry here.
  return shared::task::run_with_subcommands(
      argc, argv, k_task_manifest, k_common_manifest, tasks::download_dir_zip::run,
      {{"serve", k_serve_manifest, k_serve_common_manifest, tasks::download_dir_zip::run_serve}});
}
