// Config parsing with Boost.ProgramOptions: the only file that includes it.
#include "launch/config.h"

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>

namespace pretext {
namespace po = boost::program_options;

RunConfig::RunConfig() {
  trainer.epochs(100).warmup_epochs(10).log_every(10).device("auto");
  for (const auto& name : objective_names()) objective_specs.push_back(make_objective_spec(name));
}

torch::Device RunConfig::device() const {
  if (trainer.device() == "auto") return torch::cuda::is_available() ? torch::kCUDA : torch::kCPU;
  try {
    return torch::Device(trainer.device());
  } catch (const c10::Error&) {
    TORCH_CHECK_VALUE(false, "train.device must be auto, cpu, cuda or cuda:N, got '",
                      trainer.device(), "'");
  }
}

ObjectiveSpec& RunConfig::objective_spec() const {
  for (const auto& spec : objective_specs) {
    if (spec->name() == objective) return *spec;
  }
  make_objective_spec(objective);  // throws, listing the known names
  TORCH_INTERNAL_ASSERT(false, "unreachable");
}

double RunConfig::effective_lr() const {
  if (lr_scaling == "linear") return base_lr * static_cast<double>(batch_size) / 256.0;
  if (lr_scaling == "sqrt") return base_lr * std::sqrt(static_cast<double>(batch_size));
  if (lr_scaling == "none") return base_lr;
  TORCH_CHECK_VALUE(false, "optim.lr_scaling must be linear, sqrt or none, got '", lr_scaling, "'");
  return 0.0;
}

std::vector<ConfigSection> config_sections(RunConfig& c) {
  std::vector<ConfigSection> sections = {
      {"train",
       {{"epochs", "passes over the training set", &c.trainer.epochs()},
        {"batch_size", "global batch size, split over ranks (SimCLR: 4096)", &c.batch_size},
        {"max_steps", "stop and checkpoint after this many steps (0 = all epochs)",
         &c.trainer.max_steps()},
        {"warmup_epochs", "linear lr warm-up length (SimCLR: 10)", &c.trainer.warmup_epochs()},
        {"grad_clip", "clip the gradient norm to this (0 = off; DINO: 3.0)",
         &c.trainer.grad_clip()},
        {"grad_clip_mode", "global (one norm) | per_parameter (each parameter's norm, DINO)",
         &c.trainer.grad_clip_mode()},
        {"log_every", "steps between metrics.jsonl lines", &c.trainer.log_every()},
        {"checkpoint_every_epochs", "numbered checkpoint every N epochs (0 = only last)",
         &c.trainer.checkpoint_every_epochs()},
        {"seed", "seed of weights init, data order and augmentations", &c.seed},
        {"threads", "LibTorch compute threads (0 = OMP_NUM_THREADS when set, else all cores)",
         &c.threads},
        {"device", "auto (cuda when a GPU is visible, else cpu) | cpu | cuda | cuda:N",
         &c.trainer.device()},
        {"precision", "fp32 | bf16 (autocast forward and loss; weights and optimizer stay fp32)",
         &c.trainer.precision()},
        {"tf32", "TF32 tensor cores for fp32 matrix products on CUDA (Ampere and newer)", &c.tf32},
        {"progress", "progress line on a terminal", &c.trainer.progress()}}},
      {"optim",
       {{"name", "sgd | lars | adamw (SimCLR: lars; MAE, MoCo v3: adamw)", &c.optimizer.name()},
        {"lr", "base learning rate before the batch-size rule (SimCLR: 0.3 linear)", &c.base_lr},
        {"lr_scaling", "linear (lr x batch/256) | sqrt (lr x sqrt(batch)) | none", &c.lr_scaling},
        {"final_lr", "learning rate at the end of the cosine decay", &c.trainer.final_lr()},
        {"momentum", "SGD/LARS momentum (0.9)", &c.optimizer.momentum()},
        {"weight_decay", "weight decay (SimCLR: 1e-6)", &c.optimizer.weight_decay()},
        {"weight_decay_final",
         "weight decay at the last step, cosine from weight_decay (-1 = constant; DINO: 0.4)",
         &c.optimizer.weight_decay_final()},
        {"trust_coefficient", "LARS eta (0.001)", &c.optimizer.trust_coefficient()},
        {"nesterov", "Nesterov momentum", &c.optimizer.nesterov()},
        {"beta1", "AdamW first-moment coefficient (0.9)", &c.optimizer.beta1()},
        {"beta2", "AdamW second-moment coefficient (0.999; MAE: 0.95)", &c.optimizer.beta2()},
        {"eps", "AdamW epsilon (1e-8)", &c.optimizer.eps()},
        {"exclude_bias_and_norm", "no decay/adaptation for biases and norm layers",
         &c.optimizer.exclude_bias_and_norm()}}},
      {"data",
       {{"dataset", "fashion_mnist | mnist | cifar10 | cifar100 | stl10 | image_folder",
         &c.dataset.name()},
        {"root", "folder holding the dataset files", &c.dataset.root()},
        {"limit", "use only the first N samples of each split (0 = all)", &c.dataset.limit()},
        {"cifar100_labels", "cifar100: fine (100 classes) | coarse (20 superclasses)",
         &c.dataset.cifar100_labels()},
        {"stl10_train_split", "stl10 training set: train | unlabeled | train+unlabeled",
         &c.dataset.stl10_train_split()},
        {"max_pixels",
         "largest width x height of an image file, read from its header before decoding "
         "(PIL's limit: 89478485)",
         &c.dataset.max_pixels()},
        {"on_error",
         "unreadable image file: stop (fail naming it) | skip (replace it, list it in "
         "unreadable_samples.tsv, count it in data/replaced)",
         &c.loader.on_error()},
        {"index_cache",
         "image_folder: where the file listing is kept between runs: auto (~/.cache/pretext) | "
         "off | a folder",
         &c.dataset.index_cache()},
        {"image_size", "side of the global crops and evaluation views", &c.image_size},
        {"num_workers", "decode/augment threads", &c.loader.num_workers()},
        {"prefetch_batches", "batches prepared ahead", &c.loader.prefetch_batches()},
        {"eval_batch_size", "batch size for feature extraction", &c.eval_batch_size},
        {"mean", "per-channel normalization mean", &c.trainer.mean()},
        {"std", "per-channel normalization std", &c.trainer.std()}}},
      {"augment",
       {{"recipe",
         "auto (the objective's own) | simclr (same chain for every view) | byol (asymmetric "
         "blur/solarize of the two views) | dino (byol's pair + local crops blurred with p 0.5) | "
         "mae (crop and flip only)",
         &c.augment_recipe},
        {"crop_scale_min", "RandomResizedCrop min area (SimCLR: 0.08)",
         &c.augment.crop_scale_min()},
        {"crop_scale_max", "RandomResizedCrop max area", &c.augment.crop_scale_max()},
        {"crop_ratio_min", "min aspect ratio (3/4)", &c.augment.crop_ratio_min()},
        {"crop_ratio_max", "max aspect ratio (4/3)", &c.augment.crop_ratio_max()},
        {"flip_prob", "horizontal flip probability", &c.augment.flip_prob()},
        {"jitter_prob", "colour jitter probability (SimCLR: 0.8)", &c.augment.jitter_prob()},
        {"brightness", "jitter brightness (SimCLR: 0.4)", &c.augment.brightness()},
        {"contrast", "jitter contrast (SimCLR: 0.4)", &c.augment.contrast()},
        {"saturation", "jitter saturation (SimCLR: 0.4)", &c.augment.saturation()},
        {"hue", "jitter hue (SimCLR: 0.1)", &c.augment.hue()},
        {"grayscale_prob", "random grayscale probability (SimCLR: 0.2)",
         &c.augment.grayscale_prob()},
        {"blur_prob", "Gaussian blur probability (SimCLR ImageNet: 0.5)", &c.augment.blur_prob()},
        {"blur_sigma_min", "blur sigma lower bound", &c.augment.blur_sigma_min()},
        {"blur_sigma_max", "blur sigma upper bound", &c.augment.blur_sigma_max()},
        {"solarize_prob", "solarization probability", &c.augment.solarize_prob()}}},
      {"model",
       {{"arch", "resnet18 | resnet50 | vit_tiny | vit_small | vit_base", &c.backbone.arch()},
        {"stem", "ResNet: imagenet (7x7/2 + max-pool) | small (3x3/1, for 32 px images)",
         &c.backbone.stem()},
        {"width", "ResNet channel width multiplier", &c.backbone.width()},
        {"channels_last", "ResNet: NHWC convolutions (faster on CPU and GPU)",
         &c.backbone.channels_last()},
        {"patch_size", "ViT patch side (16 at 224 px; 4 or 7 for 28-32 px images)",
         &c.backbone.patch_size()},
        {"pos_embed", "ViT position embedding: learned (timm, DINO) | sincos (fixed, MAE)",
         &c.backbone.pos_embed()},
        {"drop_path", "ViT stochastic depth rate, rising linearly over the blocks",
         &c.backbone.drop_path()},
        {"layer_scale", "ViT LayerScale init value (0 = off)", &c.backbone.layer_scale()}}},
      {"objective", {{"name", "the self-supervised objective", &c.objective}}},
      {"knn",
       {{"k", "neighbours (DINO: 20)", &c.knn.k()},
        {"temperature", "vote temperature (DINO: 0.07)", &c.knn.temperature()},
        {"chunk_size", "queries scored at once", &c.knn.chunk_size()},
        {"sweep_k", "neighbour counts of pretext knn --sweep", &c.knn_sweep.ks()},
        {"sweep_temperature", "temperatures of pretext knn --sweep", &c.knn_sweep.temperatures()},
        {"few_shot", "labelled images per class of pretext knn --few-shot", &c.few_shot.shots()},
        {"few_shot_seeds", "one random few-shot bank per seed (mean and spread reported)",
         &c.few_shot.seeds()}}},
      {"linear",
       {{"mode", "sgd (learning-rate grid) | lbfgs (logistic regression) | both", &c.linear_mode},
        {"val_fraction", "share of the train split held out to choose hyper-parameters",
         &c.linear_val_fraction},
        {"learning_rates", "SGD grid, one head per rate, trained in one pass",
         &c.linear.learning_rates()},
        {"epochs", "SGD epochs over the cached features", &c.linear.epochs()},
        {"batch_size", "SGD mini-batch", &c.linear.batch_size()},
        {"momentum", "SGD momentum", &c.linear.momentum()},
        {"weight_decay", "SGD weight decay", &c.linear.weight_decay()},
        {"l2", "L-BFGS regularisation strengths, strongest first", &c.logistic.l2()},
        {"max_iterations", "L-BFGS iterations per strength", &c.logistic.max_iterations()}}},
      {"dist",
       {{"backend", "auto (nccl for a CUDA device, gloo otherwise) | gloo | nccl",
         &c.dist.backend()},
        {"timeout_s", "seconds a rendezvous or collective waits for a peer before failing",
         &c.dist.timeout_s()},
        {"bucket_mb", "gradient all-reduce bucket size in MiB (PyTorch DDP: 25)",
         &c.trainer.bucket_mb()},
        {"sync_batch_norm", "BatchNorm statistics over the global batch (SimCLR, BYOL: on)",
         &c.dist.sync_batch_norm()}}},
      {"eval",
       {{"after_train", "k-NN evaluation at the end of training", &c.eval_after_train},
        {"baselines", "also evaluate random init and raw pixels", &c.eval_baselines},
        {"online_probe", "train a linear head on detached features alongside the objective",
         &c.online_probe.enabled()},
        {"online_probe_lr", "online probe SGD learning rate", &c.online_probe.lr()},
        {"knn_every_epochs", "k-NN evaluation every N epochs of pretraining (0 = off)",
         &c.knn_every_epochs}}},
  };
  for (const auto& spec : c.objective_specs) sections.push_back({spec->name(), spec->bindings()});
  return sections;
}

std::string read_config_file(const std::string& path) {
  std::ifstream in(path);
  TORCH_CHECK_VALUE(in.good(), "config file '", path, "' cannot be read (missing or no access)");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void apply_config(RunConfig& config, const ConfigSources& sources) {
  std::map<std::string, OptionBinding> bindings;
  po::options_description description;
  for (auto& section : config_sections(config)) {
    for (auto& binding : section.bindings) {
      const std::string key = section.name + "." + binding.key;
      description.add_options()(key.c_str(), po::value<std::string>(), binding.help.c_str());
      bindings.emplace(key, binding);
    }
  }
  po::variables_map values;
  // Stored first wins in Boost.PO, so the highest precedence goes in first.
  try {
    // A key given twice on the command line takes its last value, as shells users expect.
    std::vector<std::string> args;
    std::map<std::string, size_t> position_of_key;
    for (const auto& item : sources.overrides) {
      const std::string key = item.substr(0, item.find('='));
      const auto found = position_of_key.find(key);
      if (found == position_of_key.end()) {
        position_of_key.emplace(key, args.size());
        args.push_back("--" + item);
      } else {
        args[found->second] = "--" + item;
      }
    }
    po::store(
        po::command_line_parser(args)
            .options(description)
            .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
            .run(),
        values);
  } catch (const po::error& e) {
    TORCH_CHECK_VALUE(false, "command line: ", e.what());
  }
  for (auto it = sources.texts.rbegin(); it != sources.texts.rend(); ++it) {
    std::istringstream stream(it->second);
    try {
      po::store(po::parse_config_file(stream, description, /*allow_unregistered=*/false), values);
    } catch (const po::error& e) {
      TORCH_CHECK_VALUE(false, it->first, ": ", e.what());
    }
  }
  for (const auto& [key, value] : values) {
    assign_option(bindings.at(key), key, value.as<std::string>());
  }
  config.objective_spec();  // validates objective.name
  config.effective_lr();    // validates optim.lr_scaling
  config.device();          // validates train.device
}

std::string resolved_config_text(RunConfig& config) {
  std::ostringstream out;
  out << "# pretext resolved config\n";
  out << "# derived: effective lr = " << config.effective_lr() << " (optim.lr " << config.base_lr
      << ", " << config.lr_scaling << " rule, batch " << config.batch_size << ")\n";
  for (auto& section : config_sections(config)) {
    // Only the selected objective's section matters for this run.
    const bool is_objective =
        section.name != "objective" &&
        std::any_of(config.objective_specs.begin(), config.objective_specs.end(),
                    [&](const auto& s) { return s->name() == section.name; });
    if (is_objective && section.name != config.objective) continue;
    out << "\n[" << section.name << "]\n";
    for (const auto& binding : section.bindings) {
      out << binding.key << " = " << format_option(binding) << "\n";
    }
  }
  return out.str();
}

}  // namespace pretext
