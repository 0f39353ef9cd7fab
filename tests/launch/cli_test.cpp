// The `pretext` executable's contract for bad input: exit code 2, a one-line error naming the
// key or path, and nothing written.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "tests/launch/process.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_pretext;

TEST(Cli, HelpAndVersion) {
  const auto help = run_pretext("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("pretext train --config FILE"), std::string::npos);
  const auto train_help = run_pretext("train --help");
  EXPECT_EQ(train_help.exit_code, 0);
  EXPECT_NE(train_help.output.find("simclr.temperature"), std::string::npos);
}

TEST(Cli, VersionNamesWhatPythonsTorchReports) {
  const auto version = run_pretext("--version");
  ASSERT_EQ(version.exit_code, 0) << version.output;
  // The same wheel, asked from Python: LibTorch, CUDA, cuDNN and NCCL versions, GPU count.
  const auto python = testing::run_command(
      "'" + testing::python() +
      "' -c \"import torch; c = torch.backends.cudnn.version(); n = torch.cuda.nccl.version(); "
      "print('LibTorch ' + torch.__version__.split('+')[0]); "
      "print('CUDA ' + torch.version.cuda); "
      "print('cuDNN %d.%d.%d' % (c // 10000, c // 100 % 100, c % 100)); "
      "print('NCCL %d.%d.%d' % n); print('GPUs %d' % torch.cuda.device_count())\"");
  ASSERT_EQ(python.exit_code, 0) << python.output;
  std::istringstream expected(python.output);
  for (std::string line; std::getline(expected, line);) {
    EXPECT_NE(version.output.find("\n" + line), std::string::npos)
        << "missing '" << line << "' in:\n"
        << version.output;
  }
  EXPECT_EQ(version.output.rfind("pretext " PRETEXT_VERSION "\n", 0), 0u) << version.output;
}

TEST(Cli, UnknownKeyExitsTwoNamingTheKeyAndWritesNothing) {
  const auto dir = fresh_dir("cli_unknown_key");
  const auto result = run_pretext("train --config configs/simclr_resnet18_fmnist.cfg --output '" +
                                  (dir / "run").string() + "' --optim.learning_rate=0.1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("optim.learning_rate"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

TEST(Cli, UnknownKeyInFileNamesKeyAndFile) {
  const auto dir = fresh_dir("cli_unknown_file_key");
  {
    std::ofstream cfg(dir / "typo.cfg");
    cfg << "[train]\nepochs = 1\nbatchsize = 8\n";
  }
  const auto result = run_pretext("train --config '" + (dir / "typo.cfg").string() +
                                  "' --output '" + (dir / "run").string() + "'");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("train.batchsize"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("typo.cfg"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

TEST(Cli, MalformedValueExitsTwoNamingTheKey) {
  const auto dir = fresh_dir("cli_bad_value");
  const auto result = run_pretext("train --config configs/simclr_resnet18_fmnist.cfg --output '" +
                                  (dir / "run").string() + "' --train.epochs=three");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("train.epochs"), std::string::npos) << result.output;
  EXPECT_FALSE(fs::exists(dir / "run"));
}

TEST(Cli, MissingFilesExitTwoNamingThePath) {
  const auto config = run_pretext("train --config no/such/file.cfg");
  EXPECT_EQ(config.exit_code, 2) << config.output;
  EXPECT_NE(config.output.find("no/such/file.cfg"), std::string::npos) << config.output;
  const auto checkpoint = run_pretext("knn --checkpoint no/such/last.ckpt");
  EXPECT_EQ(checkpoint.exit_code, 2) << checkpoint.output;
  EXPECT_NE(checkpoint.output.find("no/such/last.ckpt"), std::string::npos);
}

TEST(Cli, UnknownArgumentAndCommandExitTwo) {
  EXPECT_EQ(run_pretext("train --config configs/simclr_resnet18_fmnist.cfg --fast").exit_code, 2);
  EXPECT_EQ(run_pretext("pretrain").exit_code, 2);
}

}  // namespace
}  // namespace pretext
