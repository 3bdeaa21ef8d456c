// download-dir-zip: writes a folder of an artifact as one ZIP stream. See --help.
#include "shared/task/run.hpp"
#include "tasks/download-dir-zip/download_dir_zip.hpp"

extern const char k_task_manifest[];
extern const char k_common_manifest[];

int main(int argc, char** argv) {
  return shared::task::run(argc, argv, k_task_manifest, k_common_manifest,
                           tasks::download_dir_zip::run);
}
