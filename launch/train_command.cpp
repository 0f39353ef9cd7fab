// `pretext train`: resolve the config, build everything (so bad settings fail before anything
// is written), then train, checkpoint and evaluate.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "distributed/all_reduce_grad.h"
#include "distributed/c10d_comm.h"
#include "distributed/comm.h"
#include "distributed/environment.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/knn_report.h"
#include "launch/training_hooks.h"
#include "models/batch_norm.h"
#include "train/stop_signal.h"
#include "train/text_file.h"
#include "train/trainer.h"

namespace pretext {
namespace fs = std::filesystem;

namespace {

std::string default_output_dir(const std::string& config_path) {
  return (fs::path("runs") / fs::path(config_path).stem()).string();
}

}  // namespace

int run_train_command(const CommandLine& line) {
  RunConfig config;
  ConfigSources sources;
  sources.texts.emplace_back(line.config_path(), read_config_file(line.config_path()));
  sources.overrides = line.overrides;
  apply_config(config, sources);

  const std::string output = line.value("--output", default_output_dir(line.config_path()));
  const std::string resume = line.value("--resume");
  std::string resume_from;
  const fs::path last = fs::path(output) / "checkpoints" / "last.ckpt";
  if (resume == "auto") {
    if (fs::exists(last)) resume_from = last.string();
  } else if (!resume.empty()) {
    TORCH_CHECK_VALUE(fs::exists(resume), "--resume: checkpoint '", resume, "' does not exist");
    resume_from = resume;
  }

  // The config as the user wrote it (train.device = auto stays auto), for config.cfg and the
  // checkpoints, before this process picks its device.
  const std::string config_text = resolved_config_text(config);
  // One process, or one rank of a torchrun / SLURM / `pretext launch` job.
  const DistributedEnv env = read_distributed_env(process_env());
  if (env.world_size > 1 && config.device().is_cuda() && !config.device().has_index()) {
    config.trainer.device("cuda:" + std::to_string(env.local_rank));
  }
  config.trainer.device(config.device().str());
  const std::unique_ptr<Comm> group = connect_from_env(env, config.dist, config.device());
  Comm& comm = *group;
  apply_runtime_settings(config);
  const auto train_set = open_dataset(config.dataset, "train");
  auto objective = build_objective(config, train_set->channels(), comm);
  if (config.dist.sync_batch_norm() && comm.world_size() > 1) {
    set_batch_norm_all_reduce(*objective, [&comm](const torch::Tensor& summand) {
      return all_reduce_sum_with_grad(comm, summand);
    });
  }
  // Weights of another checkpoint (a pretext run or `pretext import`) as the starting point; a
  // resumed run continues from its own checkpoint instead.
  const std::string init_from = line.value("--init-from");
  if (!init_from.empty() && resume_from.empty()) {
    init_backbones_from_checkpoint(*objective, init_from, comm);
  }
  auto loader = build_train_loader(config, train_set, *objective, comm);
  OnlineProbe probe = attach_online_probe(*objective, config, train_set->num_classes());

  TrainerOptions trainer_options = config.trainer;
  trainer_options.lr(config.effective_lr()).output_dir(output).config_text(config_text);
  Trainer trainer(objective, *loader, comm, config.optimizer, trainer_options);
  trainer.set_hooks(make_training_hooks(config, objective, probe, comm));
  if (!resume_from.empty()) trainer.resume(resume_from);

  // Everything is validated: only now does the run directory get written.
  if (comm.is_main()) {
    fs::create_directories(output);
    write_text_file_atomic((fs::path(output) / "config.cfg").string(),
                           trainer_options.config_text());
    std::cout << trainer_options.config_text() << "\n";
    std::cout << "pretext: training " << config.objective << " on " << train_set->describe() << ", "
              << loader->batches_per_epoch() << " steps/epoch, " << comm.world_size()
              << (comm.world_size() == 1 ? " rank" : " ranks") << "; run directory " << output
              << "\n";
    if (!resume_from.empty()) {
      std::cout << "pretext: resuming from " << resume_from << " at step "
                << trainer.position().step << "\n";
    } else if (!init_from.empty()) {
      std::cout << "pretext: backbones start from the evaluation encoder of " << init_from << "\n";
    }
    std::cout.flush();
  }
  install_stop_signal_handlers();
  const TrainSummary summary = trainer.run();
  if (comm.is_main()) {
    std::printf("pretext: %ld steps, final loss %.4f, %.1f images/s, %.0f s; checkpoint %s\n",
                static_cast<long>(summary.position.step), summary.final_loss,
                summary.images_per_second, summary.seconds, summary.last_checkpoint.c_str());
  }
  if (summary.interrupted) {
    std::fprintf(stderr,
                 "pretext: stopped by signal %d after checkpointing; continue with "
                 "--resume auto\n",
                 stop_signal_number());
    return 130;
  }
  const bool finished = summary.position.epoch >= config.trainer.epochs();
  if (config.eval_after_train && finished) {
    const KnnReport report =
        run_knn_report(objective->eval_encoder(), config, comm, config.eval_baselines);
    if (comm.is_main()) {
      std::cout << format_knn_table(report, config.knn);
      const std::string json = (fs::path(output) / "knn.json").string();
      write_knn_json(json, report, config.knn, summary.last_checkpoint);
      std::cout << "pretext: wrote " << json << "\n";
    }
  }
  return 0;
}

}  // namespace pretext
