#include "shared/task/run.hpp"

#include "shared/task/help.hpp"
#include "shared/task/interrupt.hpp"
#include "shared/task/manifest.hpp"

#include <iostream>

namespace shared::task {
namespace {

const char* source_name(InputSource source) {
  switch (source) {
  case InputSource::flag:
    return "flag";
  case InputSource::environment:
    return "environment";
  case InputSource::default_value:
    return "default";
  case InputSource::none:
    break;
  }
  return "unset";
}

void log_inputs(const Inputs& inputs, log::Logger& logger) {
  logger.group_begin("Inputs");
  for (const auto& spec : inputs.manifest().inputs) {
    const auto& value = inputs.value(spec.name);
    if (value.source != InputSource::none) {
      const std::string shown = spec.secret ? "***" : value.text;
      logger.info("  " + spec.name + " = " + shown + " (" + source_name(value.source) + ")");
    }
  }
  logger.group_end();
}

int finish(log::Logger& logger, error::ExitCode code, const std::string& message) {
  if (code == error::ExitCode::success) {
    logger.complete(logger.warning_count() > 0 ? log::Result::succeeded_with_issues
                                               : log::Result::succeeded,
                    "done");
  } else {
    logger.complete(log::Result::failed, message);
  }
  return static_cast<int>(code);
}

} // namespace

int run(int argc, char** argv, const Manifest& manifest, const TaskBody& body) {
  const log::EnvLookup env = log::process_environment();

  CommandLine command_line;
  try {
    command_line = parse_command_line(manifest, argc, argv, env);
  } catch (const error::Error& e) {
    log::Logger logger(log::detect_dialect(env), std::cout, std::cerr);
    logger.error(e.what());
    return finish(logger, e.code(), e.what());
  }
  if (command_line.help) {
    std::cout << format_help(manifest);
    return 0;
  }
  if (command_line.version) {
    std::cout << format_version(manifest) << '\n';
    return 0;
  }

  const Inputs& inputs = command_line.inputs;
  log::Logger logger(log::parse_dialect(inputs.text("logFormat"), env), std::cout, std::cerr);
  for (const auto& spec : manifest.inputs) {
    if (spec.secret) {
      logger.add_secret(inputs.text(spec.name));
    }
  }
  logger.set_verbose(inputs.boolean("verbose"));
  const bool quiet = inputs.boolean("quiet");
  if (logger.dialect() != log::Dialect::plain || inputs.boolean("verbose")) {
    log_inputs(inputs, logger);
  }

  install_interrupt_handlers();
  try {
    const error::ExitCode code =
        body(TaskContext{inputs, logger, progress::choose_mode(logger, quiet)});
    return finish(logger, code, code == error::ExitCode::success ? "" : "some items failed");
  } catch (const std::exception& e) {
    const error::ExitCode code = error::exit_code_for(e);
    const std::string prefix = code == error::ExitCode::internal ? "internal error: " : "";
    logger.error(prefix + e.what());
    return finish(logger, code, e.what());
  }
}

int run_with_subcommands(int argc, char** argv, const Manifest& manifest, const TaskBody& body,
                         const std::vector<Subcommand>& subcommands) {
  if (argc > 1) {
    for (const auto& sub : subcommands) {
      if (std::string(argv[1]) == sub.name) {
        return run(argc - 1, argv + 1, *sub.manifest, sub.body);
      }
    }
  }
  return run(argc, argv, manifest, body);
}

} // namespace shared::task
