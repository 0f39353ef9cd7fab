#include "launch/training_hooks.h"

#include <cstdio>

#include "launch/knn_report.h"

namespace pretext {

OnlineProbe attach_online_probe(Objective& objective, const RunConfig& config,
                                int64_t num_classes) {
  if (!config.online_probe.enabled()) return nullptr;
  OnlineProbe probe(objective.eval_encoder().feature_dim(), num_classes, config.online_probe);
  objective.register_module("online_probe", probe);
  probe->to(config.device());
  return probe;
}

TrainerHooks make_training_hooks(const RunConfig& config, std::shared_ptr<Objective> objective,
                                 OnlineProbe probe, Comm& comm) {
  TORCH_CHECK_VALUE(config.knn_every_epochs >= 0, "eval.knn_every_epochs must be >= 0, got ",
                    config.knn_every_epochs);
  TrainerHooks hooks;
  if (probe) {
    hooks.after_step = [objective, probe, &comm](const Batch& batch, const Step& step) mutable {
      const double progress =
          step.total > 0 ? static_cast<double>(step.index) / static_cast<double>(step.total) : 0.0;
      return probe->train_on(objective->eval_encoder(), batch.views.at(0), batch.labels, progress,
                             comm);
    };
  }
  if (config.knn_every_epochs > 0) {
    hooks.after_epoch = [config, objective, &comm](int64_t epochs_done) {
      std::vector<std::pair<std::string, double>> values;
      if (epochs_done % config.knn_every_epochs != 0) return values;
      const KnnReport report = run_knn_report(objective->eval_encoder(), config, comm, false);
      const KnnResult& result = report.rows.at(0).second;
      if (comm.is_main()) {
        std::fprintf(stderr, "\npretext: epoch %ld k-NN top-1 %.2f%%\n",
                     static_cast<long>(epochs_done), result.top1);
      }
      values.emplace_back("knn/top1", result.top1);
      values.emplace_back("knn/top5", result.top5);
      return values;
    };
  }
  return hooks;
}

}  // namespace pretext
