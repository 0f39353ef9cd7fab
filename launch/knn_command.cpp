// `pretext knn`: rebuild the checkpoint's objective from its stored config, load its weights,
// and evaluate the evaluation encoder with weighted k-NN.
#include <filesystem>
#include <iostream>

#include "distributed/comm.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/knn_report.h"

namespace pretext {
namespace fs = std::filesystem;

int run_knn_command(const CommandLine& line) {
  LocalComm comm;
  const CheckpointRun run =
      load_checkpoint_run(line.checkpoint(), line.config_path(), line.overrides, comm);
  const KnnReport report = run_knn_report(run.objective->eval_encoder(), run.config, comm,
                                          line.has("--baselines") || run.config.eval_baselines);
  std::cout << format_knn_table(report, run.config.knn);
  const fs::path out = line.out().empty()
                           ? fs::path(run_dir_of_checkpoint(line.checkpoint())) / "knn.json"
                           : fs::path(line.out());
  write_knn_json(out.string(), report, run.config.knn, line.checkpoint());
  std::cout << "pretext: wrote " << out.string() << "\n";
  return 0;
}

}  // namespace pretext
