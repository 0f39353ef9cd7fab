// `pretext extract`: a checkpoint's evaluation-encoder features and labels for one split,
// written to an HDF5 feature file that `pretext knn` and `pretext linear` read with
// --train-features/--test-features.
#include <filesystem>
#include <iostream>

#include "distributed/comm.h"
#include "evaluation/feature_file.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/evaluation_inputs.h"

namespace pretext {

int run_extract_command(const CommandLine& line) {
  const std::string split = line.value("--split", "train");
  TORCH_CHECK_VALUE(split == "train" || split == "test", "--split must be train or test, got '",
                    split, "'");
  const std::string out = line.out();
  TORCH_CHECK_VALUE(!out.empty(), "pretext extract needs --out FILE.h5");
  LocalComm comm;
  const CheckpointRun run =
      load_checkpoint_run(line.checkpoint(), line.config_path(), line.overrides, comm);
  const Features features = cached_checkpoint_features(
      line.checkpoint(), run.objective->eval_encoder(), run.config, split, comm);
  RunConfig resolved = run.config;
  FeatureProvenance provenance{
      line.checkpoint(), checkpoint_file_hash(line.checkpoint()), split,
      "eval_encoder",    resolved_config_text(resolved),          feature_key(run.config)};
  write_feature_file(out, features, provenance);
  std::cout << "pretext: wrote " << features.features.size(0) << " x " << features.features.size(1)
            << " " << split << " features to " << out << "\n";
  return 0;
}

}  // namespace pretext
