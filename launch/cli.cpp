// Command-line parsing and help text.
#include "launch/cli.h"

#include <algorithm>
#include <sstream>

#include "launch/config.h"

namespace pretext {
namespace {

const CommandSpec* find_command(const std::string& name) {
  for (const auto& spec : command_table()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string command_names() {
  std::string names;
  for (const auto& spec : command_table()) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

}  // namespace

std::string CommandLine::value(const std::string& flag, const std::string& fallback) const {
  const auto it = values.find(flag);
  return it == values.end() ? fallback : it->second;
}

bool CommandLine::has(const std::string& flag_or_switch) const {
  return values.count(flag_or_switch) > 0 || switches.count(flag_or_switch) > 0 ||
         lists.count(flag_or_switch) > 0;
}

const std::vector<CommandSpec>& command_table() {
  static const std::vector<CommandSpec> table = {
      {"train",
       {"--config", "--output", "--resume", "--init-from"},
       {},
       {"--config"},
       true,
       false,
       "  pretext train --config FILE [--section.key=value ...] [--output DIR]\n"
       "                [--resume auto|PATH] [--init-from CKPT]\n",
       "Pretrains the configured backbone with the configured objective. The run directory\n"
       "(--output, default runs/<config name>) receives config.cfg, metrics.jsonl,\n"
       "checkpoints/last.ckpt and checkpoints/epoch_NNNN.ckpt, and knn.json.\n"
       "--resume auto continues from the run directory's last checkpoint when there is one.\n"
       "--init-from starts every backbone (student and teacher) from the evaluation encoder\n"
       "of another checkpoint, e.g. published weights brought in by 'pretext import'; heads,\n"
       "optimizer and schedule start fresh. A resumed run ignores it.\n"},
      {"knn",
       {"--config", "--checkpoint", "--out", "--train-features", "--test-features"},
       {"--baselines", "--sweep", "--few-shot"},
       {},
       true,
       false,
       "  pretext knn --checkpoint PATH | --train-features F --test-features F\n"
       "              [--config FILE] [--knn.k=20 --knn.temperature=0.07] [--sweep]\n"
       "              [--few-shot] [--baselines] [--out FILE.json]\n",
       "Weighted k-NN of the checkpoint's evaluation encoder: train split as the bank, test\n"
       "split as queries. The checkpoint's own config is the base; --config and overrides\n"
       "change it. Features are cached in <run>/features/ and reused while the checkpoint and\n"
       "the data/model settings are unchanged; feature files from 'pretext extract' can be\n"
       "given instead. --sweep adds every k of knn.sweep_k with every T of\n"
       "knn.sweep_temperature from one pass over the bank; --few-shot adds k-NN with a bank of\n"
       "knn.few_shot images per class, one random bank per seed of knn.few_shot_seeds (mean\n"
       "and standard deviation). --baselines adds random init and raw pixels. Writes JSON to\n"
       "--out (default: knn.json in the run directory).\n"},
      {"linear",
       {"--config", "--checkpoint", "--out", "--train-features", "--test-features"},
       {"--baselines"},
       {},
       true,
       false,
       "  pretext linear --checkpoint PATH | --train-features F --test-features F\n"
       "                 [--linear.mode=sgd|lbfgs|both] [--baselines] [--out FILE.json]\n",
       "Linear probes on frozen features (cached like knn's). sgd: one linear head per\n"
       "learning rate of linear.learning_rates, all trained in one pass over the data with a\n"
       "cosine schedule; lbfgs: L2-regularised multinomial logistic regression by L-BFGS for\n"
       "every strength of linear.l2. Features are standardized with the training part's\n"
       "statistics; linear.val_fraction of the train split is held out to choose the learning\n"
       "rate or strength, and the chosen one's test top-1/top-5 is reported. Writes JSON to\n"
       "--out (default: linear.json in the run directory).\n"},
      {"extract",
       {"--config", "--checkpoint", "--split", "--out"},
       {},
       {"--checkpoint", "--out"},
       true,
       false,
       "  pretext extract --checkpoint PATH --split train|test --out FILE.h5\n",
       "Writes the evaluation encoder's features and labels of one split (default train) to an\n"
       "HDF5 file: /features float32 [N, D], /labels int64 [N], and the checkpoint's path,\n"
       "content hash, split and config as attributes. knn and linear read such files with\n"
       "--train-features/--test-features.\n"},
      {"reconstruct",
       {"--config", "--checkpoint", "--out"},
       {},
       {"--checkpoint"},
       true,
       false,
       "  pretext reconstruct --checkpoint PATH [--out FILE.png]   (MAE checkpoints)\n",
       "For an MAE checkpoint: the first 8 test images in three rows (original, what the\n"
       "encoder sees with masked patches grey, reconstruction with the visible patches pasted\n"
       "back), written as a PNG to --out (default: reconstruction.png in the run directory).\n"},
      {"audit",
       {"--dataset", "--config", "--split", "--threads", "--out"},
       {},
       {"--dataset"},
       true,
       false,
       "  pretext audit --dataset NAME|DIR|FILE.cfg [--data.root=DIR ...] [--split "
       "train|test|all]\n"
       "                [--threads N] [--out FILE.tsv]\n",
       "Reads every sample of a dataset once and prints each unreadable one (empty, truncated,\n"
       "not an image, a type not accepted, over data.max_pixels) with the reason, then the\n"
       "counts: listed = decoded + unreadable. Exits 1 when any sample is unreadable.\n"
       "--dataset is a dataset name (image_folder, cifar10, ...; set data.root) or a config\n"
       "file whose [data] section is used; --out also writes the list as TSV.\n"},
      {"pack",
       {"--input", "--out", "--shard-size", "--split"},
       {"--raw"},
       {"--input", "--out"},
       true,
       false,
       "  pretext pack --input DIR|FILE.cfg|NAME --out PREFIX [--shard-size N]\n"
       "               [--split all|train|test] [--raw] [--data.key=value ...]\n",
       "Writes a dataset as HDF5 shards PREFIX-<split>-NNNNN.h5 of N samples (default 10000)\n"
       "and a manifest PREFIX-<split>.manifest with counts, sizes and CRC-32 checksums; train\n"
       "on them with --data.dataset=hdf5 --data.root=PREFIX. --input is an image folder (its\n"
       "encoded files are copied after checking that each decodes; --raw stores pixels instead)\n"
       "or a config file whose [data] dataset, or a dataset name (cifar10, cifar100, stl10,\n"
       "mnist, fashion_mnist; with --data.root=DIR), is packed as raw uint8 arrays.\n"
       "--split all packs train and, when there is one, test.\n"},
      {"compare",
       {"--out", "--seeds"},
       {"--evaluate"},
       {"--out"},
       true,
       false,
       "  pretext compare --runs DIR... --out DIR [--evaluate]\n"
       "  pretext compare --configs FILE... --out DIR [--seeds 0,1,2] [--section.key=value ...]\n",
       "A report comparing runs: a table (objective, runs, epochs, wall time, images/s, k-NN,\n"
       "linear SGD and L-BFGS, few-shot k-NN top-1) and loss / k-NN / online-probe curves over\n"
       "epochs as SVG charts, written to --out as report.md and report.html. Runs differing\n"
       "only in their seed form one row with mean +- standard deviation. --configs trains each\n"
       "config once per seed into <out>/runs/ first (overrides apply to every run; finished\n"
       "runs are reused, unfinished ones resumed) and evaluates it (knn --few-shot, linear);\n"
       "--evaluate does that evaluation for --runs that lack it.\n",
       true,
       {"--runs", "--configs"}},
      {"export",
       {"--checkpoint", "--format", "--part", "--out"},
       {},
       {"--checkpoint", "--out"},
       true,
       false,
       "  pretext export --checkpoint PATH --out FILE [--format safetensors|pt]\n"
       "                 [--part backbone|teacher|student]\n",
       "Writes one encoder of the checkpoint as a PyTorch state dict under torchvision (ResNet)\n"
       "or timm (ViT) names, BatchNorm running statistics included and heads left out:\n"
       "safetensors, or a torch.save archive that torch.load(..., weights_only=True) reads.\n"
       "--format defaults to the --out extension (.safetensors, .pt, .pth). --part: backbone\n"
       "(default: the encoder the objective evaluates; DINO's teacher), student, or teacher\n"
       "(the EMA / momentum encoder of DINO, BYOL, MoCo). The file has no classifier: load it\n"
       "into torchvision after model.fc = torch.nn.Identity(), or into timm with num_classes=0.\n",
       false},
      {"import",
       {"--from", "--arch", "--config", "--out"},
       {},
       {"--from", "--arch", "--out"},
       true,
       false,
       "  pretext import --from FILE --arch resnet18|resnet50|vit_small|vit_small_patch16|...\n"
       "                 [--config FILE] [--section.key=value ...] --out CKPT\n",
       "Turns a torchvision ResNet or timm ViT state dict (safetensors or torch.save; a .pt is\n"
       "read without running any code and may hold only dicts of tensors) into a pretext\n"
       "checkpoint that knn and the other evaluation commands accept. Every backbone of the\n"
       "configured objective starts from the file; torchvision's fc.* and timm's head.* are\n"
       "ignored, and a missing num_batches_tracked counts from 0. The ResNet stem and the ViT\n"
       "patch and image size are read off the weights unless set. Names or shapes that do not\n"
       "match the architecture are listed and nothing is written. --arch also takes timm's\n"
       "ViT names (vit_small_patch16, vit_base_patch16_224: patch and image size included).\n"
       "Train from the result with 'pretext train --init-from CKPT'.\n"},
      {"launch",
       {"--nproc-per-node", "--nnodes", "--node-rank", "--master-addr", "--master-port",
        "--max-restarts", "--nodes", "--gpus-per-node", "--cpus-per-task", "--job-name", "--time",
        "--partition", "--out"},
       {"slurm"},
       {},
       false,
       true,
       "  pretext launch --nproc-per-node N [--nnodes M --node-rank R --master-addr A\n"
       "                 --master-port P] [--max-restarts K] -- train --config FILE ...\n"
       "  pretext launch slurm --nodes M --gpus-per-node G [--cpus-per-task C --time T\n"
       "                 --partition P --job-name J --out FILE] -- train --config FILE ...\n",
       "Runs this node's N ranks of a distributed job (the same environment as torchrun:\n"
       "RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT; rank 0 of node 0 hosts the\n"
       "rendezvous at --master-addr, default 127.0.0.1, port 29500). Output lines carry their\n"
       "rank; SIGINT/SIGTERM are forwarded so the ranks checkpoint and stop. When a rank fails\n"
       "the others are stopped, and with --max-restarts K the group is started again, up to K\n"
       "times, with --resume auto. 'launch slurm' instead writes an sbatch script (--out,\n"
       "default pretext.sbatch) running one rank per GPU through srun.\n",
       false},
  };
  return table;
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine line;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    line.command = "help";
    return line;
  }
  if (args[0] == "--version") {
    line.command = "version";
    return line;
  }
  line.command = args[0];
  const CommandSpec* spec = find_command(line.command);
  if (spec == nullptr) {
    throw UsageError("unknown command '" + line.command + "'; commands: " + command_names());
  }
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--" && spec->accepts_passthrough) {
      line.passthrough.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    if (arg == "--help" || arg == "-h") {
      line.help = true;
      continue;
    }
    if (spec->switches.count(arg)) {
      line.switches.insert(arg);
      continue;
    }
    const auto equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    if (spec->list_flags.count(name)) {
      auto& items = line.lists[name];
      const size_t before = items.size();
      if (equals != std::string::npos && equals + 1 < arg.size()) {
        items.push_back(arg.substr(equals + 1));
      }
      // A list runs up to the next flag (-h included).
      while (i + 1 < args.size() && args[i + 1].rfind("-", 0) != 0) items.push_back(args[++i]);
      if (items.size() == before) throw UsageError(name + " needs one or more values");
      continue;
    }
    if (spec->value_flags.count(name)) {
      std::string value;
      if (equals != std::string::npos) {
        value = arg.substr(equals + 1);
      } else if (i + 1 < args.size()) {
        value = args[++i];
      }
      if (value.empty()) throw UsageError(name + " needs a value");
      line.values[name] = value;
      continue;
    }
    if (spec->accepts_overrides && arg.rfind("--", 0) == 0 && name.find('.') != std::string::npos) {
      if (equals == std::string::npos) {
        throw UsageError("override '" + arg + "' needs a value: " + arg + "=VALUE");
      }
      line.overrides.push_back(arg.substr(2));
      continue;
    }
    throw UsageError("unknown argument '" + arg + "' for 'pretext " + line.command +
                     "'; see 'pretext " + line.command + " --help'");
  }
  if (line.help) return line;
  for (const auto& flag : spec->required) {
    if (!line.has(flag)) {
      throw UsageError("pretext " + line.command + " needs " + flag);
    }
  }
  return line;
}

std::string usage_text() {
  std::string text =
      "pretext " PRETEXT_VERSION " - self-supervised pretraining of vision backbones\n\nusage:\n";
  for (const auto& spec : command_table()) text += spec.usage;
  text +=
      "  pretext --version\n\n"
      "'pretext <command> --help' lists every config key with its default.\n"
      "Exit codes: 0 success, 1 runtime failure, 2 bad usage or configuration, 130 stopped\n"
      "by a signal after checkpointing.\n";
  return text;
}

std::string command_help(const std::string& command) {
  const CommandSpec* spec = find_command(command);
  if (spec == nullptr) return usage_text();
  std::ostringstream out;
  out << spec->usage << "\n" << spec->help;
  if (!spec->lists_config_keys) return out.str();
  out << "\nconfig keys (section.key = default: meaning):\n";
  RunConfig defaults;
  for (auto& section : config_sections(defaults)) {
    for (const auto& binding : section.bindings) {
      out << "  " << section.name << "." << binding.key << " = " << format_option(binding) << ": "
          << binding.help << "\n";
    }
  }
  return out.str();
}

}  // namespace pretext
