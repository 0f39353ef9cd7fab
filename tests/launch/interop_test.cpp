// `pretext export` and `pretext import` against PyTorch itself: exported ResNets load with
// strict=True into torchvision's builders and a ViT into a timm-layout reference written in the
// test (no timm needed), each computing the features pretext computes; torchvision and
// timm-layout weights saved by Python (torch.save and safetensors) import into checkpoints that
// give Python's features and that `pretext knn` evaluates; mismatched names and shapes, and
// pickles that would run code, are refused with lists of what is wrong.
#include <filesystem>
#include <fstream>
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

bool python_has_torchvision() {
  return testing::run_command("/usr/bin/python3 -c 'import torchvision' >/dev/null 2>&1")
             .exit_code == 0;
}

/// Runs a Python script (with kPythonHelpers prepended) in `dir`; output holds stdout + stderr.
testing::ProcessResult run_python(const fs::path& dir, const std::string& script);

// Python helpers: a safetensors reader and writer from the spec alone (json + struct), and a
// ViT in timm's layout. timm's key mapping, which the reference reproduces name for name:
//   cls_token [1,1,D], pos_embed [1,1+N,D], patch_embed.proj.{weight,bias} (Conv2d p x p / p),
//   blocks.<i>.norm1, .attn.qkv (Linear D->3D), .attn.proj, [.ls1.gamma], .norm2,
//   .mlp.fc1 (D->4D), .mlp.fc2, [.ls2.gamma]; norm (LayerNorm eps 1e-6); head (num_classes=0:
//   absent). Features: the CLS token after norm (global_pool='token').
const char* kPythonHelpers = R"(
import json, struct, sys, collections, torch
DTYPES = {'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
          'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
          'U8': torch.uint8, 'BOOL': torch.bool}
def read_st(path):
    raw = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop('__metadata__', None)
    data, out = raw[8 + n:], collections.OrderedDict()
    for name, info in header.items():
        b, e = info['data_offsets']
        t = torch.frombuffer(bytearray(data[b:e]), dtype=DTYPES[info['dtype']]) if e > b else torch.empty(0, dtype=DTYPES[info['dtype']])
        out[name] = t.reshape(info['shape']).clone()
    return out
def write_st(path, tensors):
    inv = {v: k for k, v in DTYPES.items()}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {'dtype': inv[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header).encode()
    open(path, 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))
def rel_error(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm()).item()
class Attention(torch.nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, dim * 3)
        self.proj = torch.nn.Linear(dim, dim)
    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = ((q * (D // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, D))
class LayerScale(torch.nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = torch.nn.Parameter(init * torch.ones(dim))
    def forward(self, x):
        return x * self.gamma
class Mlp(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1 = torch.nn.Linear(dim, 4 * dim)
        self.act = torch.nn.GELU()
        self.fc2 = torch.nn.Linear(4 * dim, dim)
    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))
class Block(torch.nn.Module):
    def __init__(self, dim, heads, init_values):
        super().__init__()
        self.norm1 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim, init_values) if init_values else torch.nn.Identity()
        self.norm2 = torch.nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim)
        self.ls2 = LayerScale(dim, init_values) if init_values else torch.nn.Identity()
    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))
class PatchEmbed(torch.nn.Module):
    def __init__(self, chans, dim, patch):
        super().__init__()
        self.proj = torch.nn.Conv2d(chans, dim, patch, patch)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)
class VisionTransformer(torch.nn.Module):
    def __init__(self, img_size, patch_size, embed_dim, depth, num_heads, in_chans=3,
                 init_values=None, num_classes=0):
        super().__init__()
        n = (img_size // patch_size) ** 2
        self.cls_token = torch.nn.Parameter(torch.randn(1, 1, embed_dim) * .02)
        self.pos_embed = torch.nn.Parameter(torch.randn(1, 1 + n, embed_dim) * .02)
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size)
        self.blocks = torch.nn.Sequential(*[Block(embed_dim, num_heads, init_values) for _ in range(depth)])
        self.norm = torch.nn.LayerNorm(embed_dim, eps=1e-6)
        self.head = torch.nn.Linear(embed_dim, num_classes) if num_classes else torch.nn.Identity()
    def forward(self, x):
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])
)";

testing::ProcessResult run_python(const fs::path& dir, const std::string& script) {
  std::ofstream(dir / "check.py") << kPythonHelpers << script;
  return testing::run_command("cd '" + dir.string() + "' && /usr/bin/python3 check.py 2>&1");
}

std::string shell_quoted(const fs::path& path) { return "'" + path.string() + "'"; }

TEST(ExportTest, ResNetsLoadStrictlyIntoTorchvisionAndComputeTheSameFeatures) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 cannot import torchvision";
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
import torchvision
io = read_st('io.safetensors')
for name, arch in [('r18_online.pt', 'resnet18'), ('r18_target.safetensors', 'resnet18'),
                   ('r50_teacher.safetensors', 'resnet50')]:
    model = getattr(torchvision.models, arch)()
    model.fc = torch.nn.Identity()
    state = torch.load(name, weights_only=True) if name.endswith('.pt') else read_st(name)
    model.load_state_dict(state, strict=True)
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

TEST(ExportTest, VitLoadsStrictlyIntoATimmLayoutReferenceAndComputesTheSameFeatures) {
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch";
  const auto dir = testing::fresh_dir("interop_export_vit");
  const std::string checkpoint =
      make_checkpoint(dir, {"model.arch=vit_tiny", "objective.name=moco_v3", "data.image_size=32",
                            "model.patch_size=8", "model.layer_scale=0.1"});
  const auto exported = run_pretext("export --checkpoint " + shell_quoted(checkpoint) + " --out " +
                                    shell_quoted(dir / "vit.pt"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("vit_tiny_patch8_32"), std::string::npos) << exported.output;
  torch::manual_seed(4);
  const torch::Tensor input = torch::randn({2, 3, 32, 32});
  write_safetensors(
      (dir / "io.safetensors").string(),
      {{"input", input}, {"features", pretext_features(checkpoint, "backbone", input)}});
  const auto python = run_python(dir, R"(
io = read_st('io.safetensors')
model = VisionTransformer(img_size=32, patch_size=8, embed_dim=192, depth=12, num_heads=3,
                          init_values=0.1)
state = torch.load('vit.pt', weights_only=True)
model.load_state_dict(state, strict=True)
assert list(state) == list(model.state_dict()), 'state-dict order differs from timm'
with torch.no_grad():
    err = rel_error(model.eval()(io['input']), io['features'])
print('vit relative error', err)
assert err < 1e-5, err
)");
  EXPECT_EQ(python.exit_code, 0) << python.output;
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
  if (!python_has_torchvision()) GTEST_SKIP() << "/usr/bin/python3 cannot import torchvision";
  const auto dir = testing::fresh_dir("interop_import");
  const auto python = run_python(dir, R"(
import torchvision
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
write_st('r50.safetensors', {k: v for k, v in model.state_dict().items() if 'num_batches' not in k})
with torch.no_grad():
    model.fc = torch.nn.Identity()
    io['r50'] = model.eval()(x)
vit = VisionTransformer(img_size=32, patch_size=8, embed_dim=192, depth=12, num_heads=3, num_classes=10)
xv = torch.randn(2, 3, 32, 32)
torch.save({'module.' + k: v for k, v in vit.state_dict().items()}, 'vit.pt')  # DDP-wrapped names
with torch.no_grad():
    vit.head = torch.nn.Identity()
    io['vit'] = vit.eval()(xv)
io['vit_input'] = xv
write_st('io.safetensors', io)
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
