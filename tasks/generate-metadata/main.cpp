// generate-metadata: writes artifact-metadata.csv for an artifact folder. See --help.
#include "shared/task/run.hpp"
#include "tasks/generate-metadata/generate_metadata.hpp"

extern const char k_task_manifest[];
extern const char k_common_manifest[];

int main(int argc, char** argv) {
  return shared::task::run(argc, argv, k_task_manifest, k_common_manifest,
                           tasks::generate_metadata::run);
}
