// download-artifact: brings a build's artifact into the workspace. See --help.
#include "shared/task/run.hpp"
#include "tasks/download-artifact/download_artifact.hpp"

const shared::task::Manifest& task_manifest(); // compiled from task-manifests/

int main(int argc, char** argv) {
  return shared::task::run(argc, argv, task_manifest(), tasks::download_artifact::run);
}
