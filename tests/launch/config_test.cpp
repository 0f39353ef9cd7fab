// Config resolution: precedence, validation, and the resolved text reading back unchanged.
#include "launch/config.h"

#include <gtest/gtest.h>

#include "launch/cli.h"

namespace pretext {
namespace {

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(Config, CommandLineBeatsFileBeatsDefault) {
  RunConfig config;
  ConfigSources sources;
  sources.texts.emplace_back("base.cfg",
                             "[optim]\nlr = 0.5\nmomentum = 0.8\n[train]\nepochs = 7\n");
  sources.texts.emplace_back("top.cfg", "[optim]\nlr = 0.6\n");
  sources.overrides = {"optim.lr=0.7", "simclr.temperature=0.25"};
  apply_config(config, sources);
  EXPECT_DOUBLE_EQ(config.base_lr, 0.7);
  EXPECT_DOUBLE_EQ(config.optimizer.momentum(), 0.8);
  EXPECT_EQ(config.trainer.epochs(), 7);
  EXPECT_EQ(config.batch_size, 256);  // default
  sources.overrides.clear();
  RunConfig second;
  apply_config(second, sources);
  EXPECT_DOUBLE_EQ(second.base_lr, 0.6);  // later file beats earlier file
}

TEST(Config, RepeatedOverrideTakesTheLastValue) {
  RunConfig config;
  ConfigSources sources;
  sources.overrides = {"train.epochs=2", "optim.lr=0.1", "train.epochs=5"};
  apply_config(config, sources);
  EXPECT_EQ(config.trainer.epochs(), 5);
  EXPECT_DOUBLE_EQ(config.base_lr, 0.1);
}

TEST(Config, UnknownKeysAndBadValuesNameTheKey) {
  RunConfig config;
  ConfigSources file_typo;
  file_typo.texts.emplace_back("run.cfg", "[optim]\nlearning_rate = 0.5\n");
  EXPECT_NE(error_of([&] { apply_config(config, file_typo); }).find("optim.learning_rate"),
            std::string::npos);
  ConfigSources cli_typo;
  cli_typo.overrides = {"train.epoch=3"};
  EXPECT_NE(error_of([&] { apply_config(config, cli_typo); }).find("train.epoch"),
            std::string::npos);
  ConfigSources bad_value;
  bad_value.overrides = {"train.batch_size=lots"};
  const std::string message = error_of([&] { apply_config(config, bad_value); });
  EXPECT_NE(message.find("train.batch_size"), std::string::npos) << message;
  EXPECT_NE(message.find("lots"), std::string::npos) << message;
  ConfigSources bad_objective;
  bad_objective.overrides = {"objective.name=simclrr"};
  EXPECT_NE(error_of([&] { apply_config(config, bad_objective); }).find("simclr"),
            std::string::npos);
}

TEST(Config, ResolvedTextReadsBackToTheSameConfig) {
  RunConfig config;
  ConfigSources sources;
  sources.overrides = {"optim.lr=0.123456789", "data.mean=0.1,0.2,0.3", "train.progress=false"};
  apply_config(config, sources);
  const std::string text = resolved_config_text(config);
  RunConfig again;
  ConfigSources from_text;
  from_text.texts.emplace_back("resolved", text);
  apply_config(again, from_text);
  EXPECT_EQ(resolved_config_text(again), text);
  EXPECT_DOUBLE_EQ(again.base_lr, 0.123456789);
  EXPECT_EQ(again.trainer.mean(), (std::vector<double>{0.1, 0.2, 0.3}));
}

TEST(Config, EffectiveLearningRateFollowsTheScalingRule) {
  RunConfig config;
  config.base_lr = 0.3;
  config.batch_size = 512;
  EXPECT_DOUBLE_EQ(config.effective_lr(), 0.6);
  config.lr_scaling = "sqrt";
  EXPECT_NEAR(config.effective_lr(), 0.3 * std::sqrt(512.0), 1e-12);
  config.lr_scaling = "cubic";
  EXPECT_THROW(config.effective_lr(), c10::Error);
}

TEST(CommandLine, ParsesFlagsAndOverrides) {
  const auto line = parse_command_line(
      {"train", "--config", "a.cfg", "--optim.lr=0.1", "--output=runs/x", "--resume", "auto"});
  EXPECT_EQ(line.command, "train");
  EXPECT_EQ(line.config_path(), "a.cfg");
  EXPECT_EQ(line.value("--output"), "runs/x");
  EXPECT_EQ(line.value("--resume"), "auto");
  EXPECT_EQ(line.overrides, std::vector<std::string>{"optim.lr=0.1"});
  EXPECT_THROW(parse_command_line({"train"}), UsageError);
  EXPECT_THROW(parse_command_line({"train", "--config", "a.cfg", "--bogus"}), UsageError);
  EXPECT_THROW(parse_command_line({"fly"}), UsageError);
  // knn takes --checkpoint or feature files: that choice is checked by the command, not here.
  EXPECT_THROW(parse_command_line({"extract", "--checkpoint", "a.ckpt"}), UsageError);
}

TEST(CommandLine, ListFlagsTakeEveryValueUpToTheNextFlag) {
  const auto line = parse_command_line(
      {"compare", "--runs", "a", "b", "--out", "r", "--runs=c", "d", "--knn.k=5", "--evaluate"});
  EXPECT_EQ(line.lists.at("--runs"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(line.value("--out"), "r");
  EXPECT_TRUE(line.has("--evaluate"));
  EXPECT_EQ(line.overrides, std::vector<std::string>{"knn.k=5"});
  EXPECT_TRUE(parse_command_line({"compare", "--runs", "a", "-h"}).help);
  EXPECT_THROW(parse_command_line({"compare", "--runs", "--out", "r"}), UsageError);
  EXPECT_THROW(parse_command_line({"compare", "--runs", "a"}), UsageError);  // --out missing
}

}  // namespace
}  // namespace pretext
