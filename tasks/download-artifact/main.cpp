// download-artifact: brings a build's artifact into the workspace. See --help.
#include "shared/task/run.hpp"
#include "tasks/download-artifact/download_artifact.hpp"

extern const char k_task_manifest[];
extern const char k_common_manifest[];

int main(int argc, char** argv) {
  return shared::task::run(argc, argv, k_task_manifest, k_common_manifest,
                           tasks::download_artifact::run);
}
