// download-dir-zip: writes a folder of an artifact as one ZIP stream; `download-dir-zip serve`
// serves folders as archives over HTTP; `download-dir-zip worker` is the zipper of the
// asynchronous archive jobs (jobs/worker.hpp). See --help, serve --help and worker --help.
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"
#include "tasks/download-dir-zip/jobs/worker.hpp"
#include "tasks/download-dir-zip/serve.hpp"

const shared::task::Manifest& task_manifest();
const shared::task::Manifest& serve_manifest();
const shared::task::Manifest& worker_manifest();

int main(int argc, char** argv) {
  return shared::task::run_with_subcommands(
      argc, argv, task_manifest(), tasks::download_dir_zip::run,
      {{"serve", &serve_manifest(), tasks::download_dir_zip::run_serve},
       {"worker", &worker_manifest(), tasks::download_dir_zip::jobs::worker_task}});
}
