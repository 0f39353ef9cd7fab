// Times one SimCLR training step in pretext: uint8 views -> normalized float -> the registered
// "simclr" objective's compute_loss (one forward over both views, projector, NT-Xent, metrics)
// -> backward -> pretext's Optimizer step, as train/trainer.cpp runs it. bench/simclr_step.py
// does the same in Python PyTorch; bench/simclr_step.sh runs both and prints the ratio.
// Prints one JSON line: median/mean/min step time and the median of each phase.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <torch/torch.h>

#include "data/loader.h"
#include "distributed/comm.h"
#include "models/backbone.h"
#include "objectives/objective.h"
#include "objectives/option_binding.h"
#include "objectives/registry.h"
#include "train/allocator.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct BenchOptions {
  int64_t batch = 256;
  double width = 0.25;
  int64_t size = 28;
  int64_t hidden = 512;
  int64_t out_dim = 128;
  double temperature = 0.2;
  std::string optimizer = "sgd";
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-6;
  double trust_coefficient = 0.02;
  int64_t steps = 10;
  int64_t warmup = 3;
  int64_t threads = 0;  // 0: one per core, as `pretext train` does with train.threads = 0
  uint64_t seed = 0;
  /// Experiment, not what the product does today: conv weights and inputs in channels-last
  /// (NHWC) memory format, which oneDNN convolves without reordering.
  bool channels_last = true;  // the product default (model.channels_last)
};

const char* kUsage =
    "usage: pretext_bench_simclr_step [--batch=256] [--width=0.25] [--size=28] [--hidden=512]\n"
    "  [--out_dim=128] [--temperature=0.2] [--optimizer=sgd|lars] [--lr=0.1] [--momentum=0.9]\n"
    "  [--weight_decay=1e-6] [--trust_coefficient=0.02] [--steps=10] [--warmup=3]\n"
    "  [--threads=N (0 = one per core)] [--seed=0] [--channels_last=1|0]\n";

int64_t parse_int(const std::string& key, const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK_VALUE(used == text.size() && !text.empty(), "--", key, ": expected an integer, got '",
                    text, "'");
  return value;
}

double parse_double(const std::string& key, const std::string& text) {
  size_t used = 0;
  double value = 0.0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TORCH_CHECK_VALUE(used == text.size() && !text.empty(), "--", key, ": expected a number, got '",
                    text, "'");
  return value;
}

/// Accepts --key=value and --key value.
BenchOptions parse_args(int argc, char** argv) {
  BenchOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    TORCH_CHECK_VALUE(arg.rfind("--", 0) == 0, "unexpected argument '", arg, "'\n", kUsage);
    std::string key = arg.substr(2);
    std::string value;
    const size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      TORCH_CHECK_VALUE(i + 1 < argc, "--", key, " needs a value\n", kUsage);
      value = argv[++i];
    }
    if (key == "batch") {
      o.batch = parse_int(key, value);
    } else if (key == "width") {
      o.width = parse_double(key, value);
    } else if (key == "size") {
      o.size = parse_int(key, value);
    } else if (key == "hidden") {
      o.hidden = parse_int(key, value);
    } else if (key == "out_dim") {
      o.out_dim = parse_int(key, value);
    } else if (key == "temperature") {
      o.temperature = parse_double(key, value);
    } else if (key == "optimizer") {
      o.optimizer = value;
    } else if (key == "lr") {
      o.lr = parse_double(key, value);
    } else if (key == "momentum") {
      o.momentum = parse_double(key, value);
    } else if (key == "weight_decay") {
      o.weight_decay = parse_double(key, value);
    } else if (key == "trust_coefficient") {
      o.trust_coefficient = parse_double(key, value);
    } else if (key == "steps") {
      o.steps = parse_int(key, value);
    } else if (key == "warmup") {
      o.warmup = parse_int(key, value);
    } else if (key == "threads") {
      o.threads = parse_int(key, value);
    } else if (key == "channels_last") {
      o.channels_last = parse_int(key, value) != 0;
    } else if (key == "seed") {
      o.seed = static_cast<uint64_t>(parse_int(key, value));
    } else {
      TORCH_CHECK_VALUE(false, "unknown option --", key, "\n", kUsage);
    }
  }
  TORCH_CHECK_VALUE(o.batch >= 2 && o.size >= 1 && o.steps >= 1 && o.warmup >= 0 && o.threads >= 0,
                    "need batch >= 2, size >= 1, steps >= 1, warmup >= 0, threads >= 0; got batch ",
                    o.batch, ", size ", o.size, ", steps ", o.steps, ", warmup ", o.warmup,
                    ", threads ", o.threads);
  return o;
}

/// Sets one key of the objective's config section through its bindings, as launch/config does.
void set_option(pretext::ObjectiveSpec& spec, const std::string& key, const std::string& value) {
  for (const auto& binding : spec.bindings()) {
    if (binding.key == key) {
      pretext::assign_option(binding, spec.name() + "." + key, value);
      return;
    }
  }
  TORCH_CHECK_VALUE(false, "bench: objective '", spec.name(), "' has no option '", key, "'");
}

std::string to_text(double value) {
  std::ostringstream out;
  out.precision(17);
  out << value;
  return out.str();
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

int run(const BenchOptions& o) {
  const int64_t threads =
      o.threads > 0 ? o.threads : std::max<int64_t>(1, std::thread::hardware_concurrency());
  torch::set_num_threads(static_cast<int>(threads));
  torch::manual_seed(o.seed);

  auto spec = pretext::make_objective_spec("simclr");
  set_option(*spec, "temperature", to_text(o.temperature));
  set_option(*spec, "proj_hidden_dim", std::to_string(o.hidden));
  set_option(*spec, "proj_output_dim", std::to_string(o.out_dim));

  pretext::LocalComm comm;
  pretext::ObjectiveContext context;
  const auto backbone_options = pretext::BackboneOptions()
                                    .arch("resnet18")
                                    .stem("small")
                                    .width(o.width)
                                    .in_channels(1)
                                    .channels_last(o.channels_last);
  context.make_backbone = [backbone_options] { return pretext::make_backbone(backbone_options); };
  context.comm = &comm;
  context.image_size = o.size;
  std::shared_ptr<pretext::Objective> objective = spec->build(context);

  const torch::Device device(torch::kCPU);
  objective->to(device);
  pretext::Optimizer optimizer(pretext::trainable_parameters(*objective),
                               pretext::OptimizerOptions()
                                   .name(o.optimizer)
                                   .momentum(o.momentum)
                                   .weight_decay(o.weight_decay)
                                   .trust_coefficient(o.trust_coefficient));

  // Two fixed uint8 views, as the loader hands them over.
  const std::vector<torch::Tensor> host_views = {
      torch::randint(0, 256, {o.batch, 1, o.size, o.size}, torch::kUInt8),
      torch::randint(0, 256, {o.batch, 1, o.size, o.size}, torch::kUInt8)};
  const std::vector<double> norm_mean = {0.2860};
  const std::vector<double> norm_std = {0.3530};

  std::map<std::string, std::vector<double>> phases;
  std::vector<double> totals;
  double last_loss = 0.0;
  const int64_t total_steps = o.warmup + o.steps;
  for (int64_t i = 0; i < total_steps; ++i) {
    pretext::Step step;
    step.index = i;
    step.total = total_steps;

    const auto t0 = Clock::now();
    pretext::Batch batch;
    for (const auto& view : host_views) {
      // The model converts to its own memory format, as in training.
      batch.views.push_back(pretext::to_normalized_float(view, norm_mean, norm_std, device));
    }
    const auto t1 = Clock::now();
    objective->train();
    optimizer.zero_grad();
    pretext::LossOutput out = objective->compute_loss(batch, step);
    const auto t2 = Clock::now();
    out.loss.backward();
    const auto t3 = Clock::now();
    optimizer.step(o.lr);
    objective->after_optimizer_step(step);
    const auto t4 = Clock::now();

    if (i >= o.warmup) {
      phases["data_ms"].push_back(ms_between(t0, t1));
      phases["forward_ms"].push_back(ms_between(t1, t2));
      phases["backward_ms"].push_back(ms_between(t2, t3));
      phases["optimizer_ms"].push_back(ms_between(t3, t4));
      totals.push_back(ms_between(t0, t4));
    }
    if (i + 1 == total_steps) {
      last_loss = out.loss.item<double>();
    }
  }

  std::printf(
      "{\"impl\": \"cpp\", \"batch\": %ld, \"width\": %g, \"size\": %ld, \"hidden\": %ld, "
      "\"optimizer\": \"%s\", \"channels_last\": %s, \"threads\": %d, \"steps\": %ld, "
      "\"warmup\": %ld, \"median_ms\": %.2f, \"mean_ms\": %.2f, \"min_ms\": %.2f",
      static_cast<long>(o.batch), o.width, static_cast<long>(o.size), static_cast<long>(o.hidden),
      o.optimizer.c_str(), o.channels_last ? "true" : "false", torch::get_num_threads(),
      static_cast<long>(o.steps), static_cast<long>(o.warmup), median(totals), mean(totals),
      *std::min_element(totals.begin(), totals.end()));
  for (const char* name : {"data_ms", "forward_ms", "backward_ms", "optimizer_ms"}) {
    std::printf(", \"%s\": %.2f", name, median(phases[name]));
  }
  std::printf(", \"last_loss\": %.4f}\n", last_loss);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pretext::keep_freed_memory_for_reuse();  // as the pretext executable does
  try {
    return run(parse_args(argc, argv));
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "pretext_bench_simclr_step: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pretext_bench_simclr_step: %s\n", e.what());
    return 1;
  }
}
