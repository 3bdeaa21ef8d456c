// generate-metadata: writes artifact-metadata.csv for an artifact folder. See --help.
#include "shared/task/run.hpp"
#include "tasks/generate-metadata/generate_metadata.hpp"

const shared::task::Manifest& task_manifest(); // compiled from task-manifests/

int main(int argc, char** argv) {
  return shared::task::run(argc, argv, task_manifest(), tasks::generate_metadata::run);
}
