// download-dir-zip: writes a folder of an artifact as one ZIP stream; `download-dir-zip serve`
// serves folders as archives over HTTP; `download-dir-zip worker` is the zipper of the
// asynchronous archive jobs (jobs/worker.hpp). See --help, serve --help and worker --help.
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"
#include "tasks/download-dir-zip/jobs/worker.hpp"
#include "tasks/download-dir-zip/serve.hpp"

extern const char k_task_manifest[];
extern const char k_common_manifest[];
extern const char k_serve_manifest[];
extern const char k_serve_common_manifest[];
extern const char k_worker_manifest[];

int main(int argc, char** argv) {
  return shared::task::run_with_subcommands(
      argc, argv, k_task_manifest, k_common_manifest, tasks::download_dir_zip::run,
      {{"serve", k_serve_manifest, k_serve_common_manifest, tasks::download_dir_zip::run_serve},
       {"worker", k_worker_manifest, k_common_manifest,
        tasks::download_dir_zip::jobs::worker_task}});
}
