// `pretext export` and `pretext import` against PyTorch itself: exported ResNets load with
// strict=True into torchvision's builders and ViTs into timm through the very code the export
// prints (timm.create_model for sizes timm names, VisionTransformer(...) otherwise), each
// computing the features pretext computes; torchvision and timm weights saved by Python
// (torch.save and the safetensors package) import into checkpoints that give Python's features
// and that `pretext knn` evaluates; mismatched names and shapes, and pickles that would run
// code, are refused with lists of what is wrong.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "distributed/comm.h"
#include "launch/components.h"
#include "launch/config.h"
#include "models/pt_archive.h"
#include "models/resnet.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zip_archive.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"
#include "train/checkpoint.h"
#include "train/tensor_file.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::run_pretext;
using testing::shell_quoted;

/// A freshly initialized objective saved as a checkpoint, with random BatchNorm statistics and
/// a teacher that differs from the student, so a swapped part or a dropped buffer shows.
std::string make_checkpoint(const fs::path& dir, std::vector<std::string> overrides) {
  RunConfig config;
  ConfigSources sources;
  sources.overrides = overrides;
  apply_config(config, sources);
  for (const auto& binding : config.objective_spec().bindings()) {
    const std::string small = testing::small_objective_option(binding.key);
    if (!small.empty())
      overrides.insert(overrides.begin(), config.objective + "." + binding.key + "=" + small);
  }
  config = RunConfig();
  sources.overrides = overrides;
  apply_config(config, sources);
  LocalComm comm;
  torch::manual_seed(7);
  auto objective = build_objective(config, 3, comm);
  {
    torch::NoGradGuard no_grad;
    for (auto& item : objective->named_buffers()) {
      const std::string& name = item.key();
      if (name.find("running_mean") != std::string::npos) item.value().normal_(0.0, 0.2);
      if (name.find("running_var") != std::string::npos) item.value().uniform_(0.5, 2.0);
      if (name.find("num_batches_tracked") != std::string::npos) item.value().fill_(17);
    }
    for (auto& p : objective->named_parameters()) {
      if (p.key().find(".bias") != std::string::npos) p.value().normal_(0.0, 0.1);
    }
    for (Backbone* backbone : objective_backbones(*objective)) {
      if (backbone == &objective->encoder()) continue;
      for (auto& p : backbone->parameters()) p.add_(torch::randn_like(p) * 0.01);
    }
  }
  TensorFile file;
  file.metadata = {{"format", "pretext-checkpoint-1"},
                   {"step", "0"},
                   {"epoch", "0"},
                   {"batch_in_epoch", "0"},
                   {"config", resolved_config_text(config)}};
  add_module_state(*objective, "model/", file);
  const std::string path = (dir / "model.ckpt").string();
  write_tensor_file(path, file);
  return path;
}

/// The checkpoint part's features for `input`, computed by pretext.
torch::Tensor pretext_features(const std::string& checkpoint, const std::string& part,
                               const torch::Tensor& input) {
  LocalComm comm;
  CheckpointRun run = load_checkpoint_weights(checkpoint, {}, comm);
  Backbone& encoder = objective_part(*run.objective, part);
  encoder.eval();
  torch::NoGradGuard no_grad;
  return encoder.forward(input);
}

/// Runs a Python script (with kPythonHelpers prepended) in `dir`; output holds stdout + stderr.
testing::ProcessResult run_python(const fs::path& dir, const std::string& script) {
  static const char* kPythonHelpers = R"(
import sys, torch, timm, torchvision, safetensors.torch
from safetensors.torch import load_file, save_file
def rel_error(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()
)";
  return testing::run_python(dir, kPythonHelpers + script);
}

/// The lines `pretext export` prints after "load it in PyTorch with:", unindented: the
/// Python a user would paste.
std::string printed_loading_code(const std::string& output) {
  const std::string marker = "load it in PyTorch with:\n";
  const size_t at = output.find(marker);
  if (at == std::string::npos) return "";
  std::istringstream lines(output.substr(at + marker.size()));
  std::string code, line;
  while (std::getline(lines, line)) {
    if (line.rfind("  ", 0) != 0) break;
    if (line.rfind("  note:", 0) == 0) continue;
    code += line.substr(2) + "\n";
  }
  return code;
}

TEST(ExportTest, ResNetsLoadStrictlyIntoTorchvisionAndComputeTheSameFeatures) {
  const auto dir = testing::fresh_dir("interop_export_resnet");
  torch::manual_seed(3);
  const torch::Tensor input = torch::randn({2, 3, 64, 64});
  StateDict io = {{"input", input}};
  struct Case {
    std::string arch, objective, part, file;
  };
  const std::vector<Case> cases = {{"resnet18", "byol", "backbone", "r18_online.pt"},
                                   {"resnet18", "byol", "teacher", "r18_target.safetensors"},
                                   {"resnet50", "dino", "backbone", "r50_teacher.safetensors"}};
  for (const Case& c : cases) {
    const fs::path case_dir = dir / (c.arch + "_" + c.objective);
    fs::create_directories(case_dir);
    const std::string checkpoint =
        fs::exists(case_dir / "model.ckpt")
            ? (case_dir / "model.ckpt").string()
            : make_checkpoint(case_dir, {"model.arch=" + c.arch, "objective.name=" + c.objective,
                                         "model.channels_last=true"});
    const auto exported = run_pretext("export --checkpoint " + shell_quoted(checkpoint) +
                                      " --part " + c.part + " --out " + shell_quoted(dir / c.file));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    EXPECT_NE(exported.output.find("model.fc = torch.nn.Identity()"), std::string::npos)
        << exported.output;
    io.emplace_back(c.file, pretext_features(checkpoint, c.part, input));
  }
  // The teacher export differs from the student's (both live in the byol checkpoint).
  EXPECT_FALSE(torch::allclose(io[1].second, io[2].second));
  write_safetensors((dir / "io.safetensors").string(), io);

  const auto python = run_python(dir, R"(
io = load_file('io.safetensors')
for name, arch in [('r18_online.pt', 'resnet18'), ('r18_target.safetensors', 'resnet18'),
                   ('r50_teacher.safetensors', 'resnet50')]:
    model = getattr(torchvision.models, arch)()
    model.fc = torch.nn.Identity()
    state = torch.load(name, weights_only=True) if name.endswith('.pt') else load_file(name)
    model.load_state_dict(state, strict=True)
    if name.endswith('.pt'):  # safetensors orders tensors its own way, torch.save keeps ours
        assert list(state) == list(model.state_dict()), 'state-dict order differs from torchvision'
    with torch.no_grad():
        out = model.eval()(io['input'])
    err = rel_error(out, io[name])
    print(name, 'relative error', err)
    assert err < 1e-5, err
print('ok')
)");
  EXPECT_EQ(python.exit_code, 0) << python.output;
  std::cout << python.output;
}

TEST(ExportTest, VitsLoadStrictlyIntoTimmAsPrintedAndComputeTheSameFeatures) {
  const auto dir = testing::fresh_dir("interop_export_vit");
  struct Case {
    std::string name;
    std::vector<std::string> overrides;
    std::string expected_call;  ///< what the printed loading code must build the model with
    int64_t image_size;
  };
  const std::vector<Case> cases = {
      // A size timm registers: its name.
      {"vit_tiny_224",
       {"model.arch=vit_tiny", "data.image_size=224", "model.patch_size=16"},
       "timm.create_model('vit_tiny_patch16_224', num_classes=0, in_chans=3)",
       224},
      // A size timm has no name for, with LayerScale: VisionTransformer's own arguments.
      {"vit_tiny_32",
       {"model.arch=vit_tiny", "data.image_size=32", "model.patch_size=8", "model.layer_scale=0.1"},
       "timm.models.vision_transformer.VisionTransformer(img_size=32, patch_size=8",
       32}};
  std::string script = "io = load_file('io.safetensors')\n";
  StateDict io;
  for (const Case& c : cases) {
    const fs::path case_dir = dir / c.name;
    fs::create_directories(case_dir);
    std::vector<std::string> overrides = c.overrides;
    overrides.push_back("objective.name=moco_v3");
    const std::string checkpoint = make_checkpoint(case_dir, overrides);
    const fs::path out = dir / (c.name + ".pt");
    const auto exported = run_pretext("export --checkpoint " + shell_quoted(checkpoint) +
                                      " --out " + shell_quoted(out));
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    const std::string code = printed_loading_code(exported.output);
    EXPECT_NE(code.find(c.expected_call), std::string::npos) << exported.output;
    torch::manual_seed(4);
    const torch::Tensor input = torch::randn({2, 3, c.image_size, c.image_size});
    io.emplace_back(c.name + "_input", input);
    io.emplace_back(c.name, pretext_features(checkpoint, "backbone", input));
    // The printed code, as printed; then timm's features against pretext's.
    script += code + "state = torch.load('" + out.string() + "', weights_only=True)\n" +
              "model.load_state_dict(state, strict=True)\n" +
              "assert list(state) == list(model.state_dict()), 'state-dict order differs'\n" +
              "with torch.no_grad():\n" + "    err = rel_error(model.eval()(io['" + c.name +
              "_input']), io['" + c.name + "'])\n" + "print('" + c.name +
              " relative error', err)\n" + "assert err < 1e-5, err\n";
  }
  write_safetensors((dir / "io.safetensors").string(), io);
  const auto python = run_python(dir, script);
  EXPECT_EQ(python.exit_code, 0) << script << python.output;
  std::cout << python.output;
}

TEST(ExportTest, RefusesAPartTheObjectiveLacksAndAnUnknownFormat) {
  const auto dir = testing::fresh_dir("interop_export_refusals");
  const std::string checkpoint = make_checkpoint(dir, {"objective.name=simclr"});
  const auto teacher = run_pretext("export --checkpoint " + shell_quoted(checkpoint) +
                                   " --part teacher --out " + shell_quoted(dir / "t.pt"));
  EXPECT_EQ(teacher.exit_code, 2) << teacher.output;
  EXPECT_NE(teacher.output.find("no teacher"), std::string::npos) << teacher.output;
  const auto format = run_pretext("export --checkpoint " + shell_quoted(checkpoint) + " --out " +
                                  shell_quoted(dir / "t.bin"));
  EXPECT_EQ(format.exit_code, 2) << format.output;
  EXPECT_NE(format.output.find("--format"), std::string::npos) << format.output;
  EXPECT_FALSE(fs::exists(dir / "t.pt"));
}

TEST(ImportTest, TorchvisionAndTimmLayoutWeightsGivePythonsFeatures) {
  const auto dir = testing::fresh_dir("interop_import");
  const auto python = run_python(dir, R"(
torch.manual_seed(0)
x = torch.randn(2, 3, 64, 64)
def randomize_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.2); m.running_var.uniform_(0.5, 2); m.bias.data.normal_(0, .1)
io = {'input': x}
model = torchvision.models.resnet18()
randomize_bn(model)
torch.save(model.state_dict(), 'r18.pt')  # with fc, as torchvision saves it
with torch.no_grad():
    model.fc = torch.nn.Identity()
    io['r18'] = model.eval()(x)
model = torchvision.models.resnet50()
randomize_bn(model)
# safetensors without num_batches_tracked, like torchvision's published weight files.
save_file({k: v for k, v in model.state_dict().items() if 'num_batches' not in k}, 'r50.safetensors')
with torch.no_grad():
    model.fc = torch.nn.Identity()
    io['r50'] = model.eval()(x)
vit = timm.models.vision_transformer.VisionTransformer(
    img_size=32, patch_size=8, embed_dim=192, depth=12, num_heads=3, num_classes=10)
xv = torch.randn(2, 3, 32, 32)
torch.save({'module.' + k: v for k, v in vit.state_dict().items()}, 'vit.pt')  # DDP-wrapped names
with torch.no_grad():
    io['vit'] = vit.eval().forward_head(vit.forward_features(xv), pre_logits=True)
io['vit_input'] = xv
save_file({k: v.contiguous() for k, v in io.items()}, 'io.safetensors')
print('ok')
)");
  if (python.exit_code != 0) FAIL() << python.output;
  const SafetensorsContents io = read_safetensors((dir / "io.safetensors").string());
  const auto tensor = [&](const std::string& name) {
    for (const auto& [key, value] : io.tensors) {
      if (key == name) return value;
    }
    ADD_FAILURE() << "no " << name;
    return torch::Tensor();
  };
  struct Case {
    std::string file, arch, features, input;
  };
  for (const Case& c : {Case{"r18.pt", "resnet18", "r18", "input"},
                        Case{"r50.safetensors", "resnet50", "r50", "input"},
                        // timm's name carries the patch and image size.
                        Case{"vit.pt", "vit_tiny_patch8_32", "vit", "vit_input"}}) {
    const fs::path checkpoint = dir / (c.features + ".ckpt");
    const auto imported =
        run_pretext("import --from " + shell_quoted(dir / c.file) + " --arch " + c.arch +
                    " --objective.name=dino --dino.out_dim=64 --out " + shell_quoted(checkpoint));
    ASSERT_EQ(imported.exit_code, 0) << imported.output;
    for (const char* part : {"backbone", "student"}) {
      const torch::Tensor features = pretext_features(checkpoint.string(), part, tensor(c.input));
      const double error =
          ((features - tensor(c.features)).norm() / tensor(c.features).norm()).item<double>();
      std::cout << c.file << " " << part << " relative error " << error << "\n";
      EXPECT_LT(error, 1e-5) << c.file << " " << part;
    }
  }
}

TEST(ImportTest, ImportedCheckpointIsEvaluatedByKnn) {
  const auto dir = testing::fresh_dir("interop_import_knn");
  // A one-channel ResNet-18 for Fashion-MNIST, as a torchvision-layout state dict with fc.
  auto resnet = std::make_shared<ResNet>(ResNetOptions::resnet18().in_channels(1).num_classes(10));
  write_pt((dir / "r18.pt").string(), module_state_dict(*resnet));
  const fs::path checkpoint = dir / "imported.ckpt";
  const auto imported = run_pretext("import --from " + shell_quoted(dir / "r18.pt") +
                                    " --arch resnet18 --out " + shell_quoted(checkpoint));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const auto knn =
      run_pretext("knn --checkpoint " + shell_quoted(checkpoint) +
                  " --data.limit=64 --train.threads=2 --out " + shell_quoted(dir / "knn.json"));
  ASSERT_EQ(knn.exit_code, 0) << knn.output;
  EXPECT_TRUE(fs::exists(dir / "knn.json"));
  const auto linear = run_pretext("linear --checkpoint " + shell_quoted(checkpoint) +
                                  " --data.limit=64 --train.threads=2 --linear.epochs=2"
                                  " --linear.max_iterations=10 --out " +
                                  shell_quoted(dir / "linear.json"));
  ASSERT_EQ(linear.exit_code, 0) << linear.output;
  EXPECT_TRUE(fs::exists(dir / "linear.json"));

  // Pretraining starts from the imported weights: after one step at a vanishing learning rate
  // the student's parameters are still the file's (a fresh init would differ everywhere).
  std::ofstream(dir / "byol.cfg") << "[objective]\nname = byol\n[byol]\nproj_hidden_dim = 32\n"
                                     "proj_output_dim = 16\npred_hidden_dim = 32\n";
  const auto trained =
      run_pretext("train --config " + shell_quoted(dir / "byol.cfg") + " --init-from " +
                  shell_quoted(checkpoint) +
                  " --data.limit=64 --train.batch_size=32 --train.max_steps=1 --optim.lr=1e-12"
                  " --optim.weight_decay=0 --train.threads=2 --train.progress=false"
                  " --eval.after_train=false --output " +
                  shell_quoted(dir / "run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("start from"), std::string::npos) << trained.output;
  const fs::path exported = dir / "student.safetensors";
  const auto export_result =
      run_pretext("export --checkpoint " + shell_quoted(dir / "run" / "checkpoints" / "last.ckpt") +
                  " --part student --format safetensors --out " + shell_quoted(exported));
  ASSERT_EQ(export_result.exit_code, 0) << export_result.output;
  const StateDict student = read_safetensors(exported.string()).tensors;
  int64_t compared = 0;
  for (const auto& item : resnet->named_parameters()) {
    if (item.key().rfind("fc.", 0) == 0) continue;
    for (const auto& [name, value] : student) {
      if (name != item.key()) continue;
      EXPECT_TRUE(torch::allclose(value, item.value().detach(), 1e-5, 1e-6)) << name;
      ++compared;
    }
  }
  EXPECT_EQ(compared, static_cast<int64_t>(resnet->named_parameters().size()) - 2);

  // Another architecture is refused, listing the mismatches, before anything is written.
  const auto mismatch =
      run_pretext("train --config " + shell_quoted(dir / "byol.cfg") + " --init-from " +
                  shell_quoted(checkpoint) + " --model.arch=resnet50 --data.limit=64 --output " +
                  shell_quoted(dir / "mismatch"));
  EXPECT_NE(mismatch.exit_code, 0);
  EXPECT_NE(mismatch.output.find("does not match"), std::string::npos) << mismatch.output;
  EXPECT_FALSE(fs::exists(dir / "mismatch"));
}

TEST(ImportTest, RefusesMismatchedWeightsListingThemAndPicklesThatRunCode) {
  const auto dir = testing::fresh_dir("interop_import_refusals");
  auto resnet = std::make_shared<ResNet>(ResNetOptions::resnet18());
  write_safetensors((dir / "r18.safetensors").string(), module_state_dict(*resnet));
  const fs::path out = dir / "never.ckpt";
  const auto wrong_arch = run_pretext("import --from " + shell_quoted(dir / "r18.safetensors") +
                                      " --arch resnet50 --out " + shell_quoted(out));
  EXPECT_EQ(wrong_arch.exit_code, 1) << wrong_arch.output;
  EXPECT_NE(wrong_arch.output.find("does not match pretext's resnet50"), std::string::npos)
      << wrong_arch.output;
  EXPECT_NE(wrong_arch.output.find("missing from the file"), std::string::npos);
  EXPECT_NE(wrong_arch.output.find("layer1.0.conv3.weight"), std::string::npos);
  EXPECT_NE(wrong_arch.output.find("shape mismatch"), std::string::npos);
  EXPECT_NE(wrong_arch.output.find(
                "layer1.0.conv1.weight: [64, 64, 3, 3] in the file, [64, 64, 1, 1] in the model"),
            std::string::npos)
      << wrong_arch.output;
  const auto vit = run_pretext("import --from " + shell_quoted(dir / "r18.safetensors") +
                               " --arch vit_tiny --data.image_size=32 --model.patch_size=8 --out " +
                               shell_quoted(out));
  EXPECT_NE(vit.exit_code, 0);
  EXPECT_NE(vit.output.find("unexpected in the file"), std::string::npos) << vit.output;

  const std::string system_call =
      std::string("\x80\x02") + "cposix\nsystem\n" + "X\x07\0\0\0" + "echo hi" + "\x85R.";
  std::ofstream(dir / "evil.pt", std::ios::binary)
      << encode_zip({{"evil/data.pkl", system_call}, {"evil/version", "3\n"}});
  const auto evil = run_pretext("import --from " + shell_quoted(dir / "evil.pt") +
                                " --arch resnet18 --out " + shell_quoted(out));
  EXPECT_EQ(evil.exit_code, 1) << evil.output;
  EXPECT_NE(evil.output.find("refusing global 'posix.system'"), std::string::npos) << evil.output;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace pretext
