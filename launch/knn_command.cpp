// `pretext knn`: rebuild the checkpoint's objective from its stored config, load its weights,
// and evaluate the evaluation encoder with weighted k-NN.
#include <filesystem>
#include <iostream>

#include "distributed/comm.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/knn_report.h"
#include "train/checkpoint.h"
#include "train/tensor_file.h"

namespace pretext {
namespace fs = std::filesystem;

int run_knn_command(const CommandLine& line) {
  TORCH_CHECK_VALUE(fs::exists(line.checkpoint), "--checkpoint: '", line.checkpoint,
                    "' does not exist");
  const TensorFile file = read_tensor_file(line.checkpoint);
  RunConfig config;
  ConfigSources sources;
  sources.texts.emplace_back(line.checkpoint, checkpoint_config_text(file));
  if (!line.config_path.empty()) {
    sources.texts.emplace_back(line.config_path, read_config_file(line.config_path));
  }
  sources.overrides = line.overrides;
  apply_config(config, sources);

  LocalComm comm;
  apply_runtime_settings(config);
  const auto train_set = open_dataset(config.dataset, "train");
  auto objective = build_objective(config, train_set->channels(), comm);
  load_module_state(*objective, "model/", file, line.checkpoint);
  objective->to(torch::Device(config.trainer.device()));

  const KnnReport report = run_knn_report(objective->eval_encoder(), config, comm,
                                          line.baselines || config.eval_baselines);
  std::cout << format_knn_table(report, config.knn);
  fs::path out = line.out;
  if (out.empty()) {
    // checkpoints live in <run>/checkpoints/; the report goes beside them in <run>.
    fs::path folder = fs::path(line.checkpoint).parent_path();
    if (folder.filename() == "checkpoints") folder = folder.parent_path();
    out = folder / "knn.json";
  }
  write_knn_json(out.string(), report, config.knn, line.checkpoint);
  std::cout << "pretext: wrote " << out.string() << "\n";
  return 0;
}

}  // namespace pretext
