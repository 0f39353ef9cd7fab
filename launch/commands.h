// The `pretext` subcommands. Each returns the process exit code.
#pragma once

#include "launch/cli.h"

namespace pretext {

int run_train_command(const CommandLine& line);
int run_knn_command(const CommandLine& line);
int run_linear_command(const CommandLine& line);
int run_extract_command(const CommandLine& line);
int run_reconstruct_command(const CommandLine& line);
int run_audit_command(const CommandLine& line);
int run_pack_command(const CommandLine& line);
int run_compare_command(const CommandLine& line);
int run_export_command(const CommandLine& line);
int run_import_command(const CommandLine& line);
int run_launch_command(const CommandLine& line);

}  // namespace pretext
