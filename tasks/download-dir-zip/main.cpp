// download-dir-zip: writes a folder of an artifact as one ZIP stream. See --help.
// `download-dir-zip worker …`: the zipper of the asynchronous archive jobs (jobs/worker.hpp).
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"
#include "tasks/download-dir-zip/jobs/worker.hpp"

#include <cstring>

extern const char k_task_manifest[];
extern const char k_common_manifest[];
extern const char k_worker_manifest[];

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "worker") == 0) {
    return shared::task::run(argc - 1, argv + 1, k_worker_manifest, k_common_manifest,
                             tasks::download_dir_zip::jobs::worker_task);
  }
  return shared::task::run(argc, argv, k_task_manifest, k_common_manifest,
                           tasks::download_dir_zip::run);
}
