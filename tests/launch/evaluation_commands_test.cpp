// The evaluation commands through the real executable on a Fashion-MNIST subset: online probe
// and periodic k-NN during training, extract -> knn (sweep, few-shot) and linear on feature
// files, refusal of mismatched or damaged feature files, and compare on two runs (report,
// charts, seeds as mean +- std), opened in headless Chromium where it is installed.
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "models/json_value.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::read_file;
using testing::run_pretext;
using testing::shell_quoted;
using testing::small_run_flags;

JsonValue read_json(const fs::path& path) { return parse_json(read_file(path), path.string()); }

// A tiny finished run, trained once per test binary run and shared by the tests below.
fs::path trained_run(const std::string& name, const std::string& extra = "") {
  const auto dir = fresh_dir(name);
  const auto result =
      run_pretext("train " + small_run_flags() + extra + " --output " + shell_quoted(dir));
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return dir;
}

TEST(EvaluationCommands, OnlineProbeAndPeriodicKnnAreLogged) {
  const auto dir = trained_run("eval_online", "--eval.online_probe=true --eval.knn_every_epochs=1");
  std::ifstream metrics(dir / "metrics.jsonl");
  int step_records = 0, knn_records = 0;
  for (std::string line; std::getline(metrics, line);) {
    const JsonValue record = parse_json(line, "metrics.jsonl");
    if (record.find("loss")) {
      ++step_records;
      const JsonValue* acc = record.find("online_probe/acc1");
      ASSERT_NE(acc, nullptr) << line;
      EXPECT_GE(acc->number, 0.0);
      EXPECT_LE(acc->number, 100.0);
      EXPECT_NE(record.find("online_probe/loss"), nullptr);
    } else {
      ++knn_records;
      ASSERT_NE(record.find("knn/top1"), nullptr) << line;
      EXPECT_EQ(record.find("epoch")->number, knn_records - 1);
    }
  }
  EXPECT_EQ(step_records, 16);
  EXPECT_EQ(knn_records, 2);
  // The last periodic k-NN is the same evaluation as the one after training.
  const JsonValue knn = read_json(dir / "knn.json");
  EXPECT_GT(knn.find("results")->find("pretrained")->find("top1")->number, 10.0);
  // knn on the checkpoint (which holds the probe's state) still works.
  const auto again =
      run_pretext("knn --checkpoint " + shell_quoted(dir / "checkpoints" / "last.ckpt") +
                  " --out " + shell_quoted(dir / "again.json"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_DOUBLE_EQ(
      read_json(dir / "again.json").find("results")->find("pretrained")->find("top1")->number,
      knn.find("results")->find("pretrained")->find("top1")->number);
}

TEST(EvaluationCommands, ExtractThenKnnSweepFewShotAndLinearFromFeatureFiles) {
  const auto dir = trained_run("eval_features", "--eval.after_train=false");
  const auto checkpoint = dir / "checkpoints" / "last.ckpt";
  for (const char* split : {"train", "test"}) {
    const auto extracted =
        run_pretext("extract --checkpoint " + shell_quoted(checkpoint) + " --split " + split +
                    " --out " + shell_quoted(dir / (std::string(split) + ".h5")));
    ASSERT_EQ(extracted.exit_code, 0) << extracted.output;
  }
  const std::string files = " --train-features " + shell_quoted(dir / "train.h5") +
                            " --test-features " + shell_quoted(dir / "test.h5");
  const auto knn = run_pretext("knn" + files +
                               " --sweep --few-shot --knn.few_shot=1,4 --knn.few_shot_seeds=0,1,2"
                               " --out " +
                               shell_quoted(dir / "knn_files.json"));
  ASSERT_EQ(knn.exit_code, 0) << knn.output;
  const JsonValue from_files = read_json(dir / "knn_files.json");
  const JsonValue* sweep = from_files.find("sweep")->find("features");
  ASSERT_TRUE(sweep && sweep->is_array());
  EXPECT_EQ(sweep->items.size(), 8u);  // 4 k x 2 T
  const JsonValue* few = from_files.find("few_shot")->find("features");
  ASSERT_EQ(few->items.size(), 2u);
  EXPECT_EQ(few->items[1].find("shots")->number, 4);
  EXPECT_EQ(few->items[1].find("top1_per_seed")->items.size(), 3u);

  // The same k-NN straight from the checkpoint gives the same accuracy, with the features
  // computed anew (extract's run-folder cache removed first).
  fs::remove_all(dir / "features");
  const auto direct = run_pretext("knn --checkpoint " + shell_quoted(checkpoint) + " --out " +
                                  shell_quoted(dir / "knn_ckpt.json"));
  ASSERT_EQ(direct.exit_code, 0) << direct.output;
  EXPECT_DOUBLE_EQ(
      read_json(dir / "knn_ckpt.json").find("results")->find("pretrained")->find("top1")->number,
      from_files.find("results")->find("features")->find("top1")->number);

  const auto linear =
      run_pretext("linear" + files + " --linear.epochs=5 --linear.max_iterations=50 --out " +
                  shell_quoted(dir / "linear.json"));
  ASSERT_EQ(linear.exit_code, 0) << linear.output;
  const JsonValue linear_json = read_json(dir / "linear.json");
  const JsonValue* row = linear_json.find("results")->find("features");
  ASSERT_NE(row, nullptr);
  for (const char* mode : {"sgd", "lbfgs"}) {
    const JsonValue* result = row->find(mode);
    ASSERT_NE(result, nullptr) << mode;
    EXPECT_GT(result->find("top1")->number, 20.0) << mode;  // 10 classes: chance is 10%
    EXPECT_GE(result->find("top5")->number, result->find("top1")->number) << mode;
  }

  // Swapped splits and a damaged file are refused by name; nothing is written.
  const auto swapped =
      run_pretext("knn --train-features " + shell_quoted(dir / "test.h5") + " --test-features " +
                  shell_quoted(dir / "train.h5") + " --out " + shell_quoted(dir / "swapped.json"));
  EXPECT_EQ(swapped.exit_code, 2) << swapped.output;
  EXPECT_NE(swapped.output.find("split"), std::string::npos) << swapped.output;
  EXPECT_FALSE(fs::exists(dir / "swapped.json"));
  fs::copy_file(dir / "train.h5", dir / "cut.h5");
  fs::resize_file(dir / "cut.h5", fs::file_size(dir / "cut.h5") / 2);
  const auto cut =
      run_pretext("linear --train-features " + shell_quoted(dir / "cut.h5") + " --test-features " +
                  shell_quoted(dir / "test.h5") + " --out " + shell_quoted(dir / "cut.json"));
  EXPECT_NE(cut.exit_code, 0);
  EXPECT_NE(cut.output.find("cut.h5"), std::string::npos) << cut.output;
  EXPECT_FALSE(fs::exists(dir / "cut.json"));
}

// Headless Chromium's DOM of `html`, or "" when Chromium is not installed.
std::string chromium_dom(const fs::path& html) {
  for (const char* browser : {"chromium", "chromium-browser"}) {
    if (testing::run_command(std::string("command -v ") + browser + " >/dev/null").exit_code != 0) {
      continue;
    }
    // A fresh profile beside the page, no background traffic, and a bound on the time.
    const std::string profile = (html.parent_path() / "chromium_profile").string();
    const auto result = testing::run_command(
        "timeout 120 " + std::string(browser) +
        " --headless --no-sandbox --disable-gpu --disable-background-networking"
        " --no-first-run --user-data-dir='" +
        profile + "' --dump-dom 'file://" + html.string() + "' 2>/dev/null");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result.output;
  }
  return "";
}

TEST(EvaluationCommands, CompareTrainsSeedsAndReportsTwoObjectives) {
  const auto out = fresh_dir("eval_compare");
  // Two objectives on the same tiny backbone; simclr trained by compare with two seeds.
  const auto simclr =
      run_pretext("compare --configs configs/simclr_resnet18_fmnist.cfg --seeds 0,1 --out " +
                  shell_quoted(out / "simclr") + " " + testing::small_run_overrides() +
                  "--eval.knn_every_epochs=1 --linear.epochs=3 --linear.max_iterations=30");
  ASSERT_EQ(simclr.exit_code, 0) << simclr.output;
  EXPECT_TRUE(fs::exists(out / "simclr" / "report.md"));
  const auto byol_run = out / "byol_run";
  const auto byol = run_pretext("train " + small_run_flags() +
                                "--objective.name=byol --byol.proj_hidden_dim=32 "
                                "--byol.proj_output_dim=16 --byol.pred_hidden_dim=32 --output " +
                                shell_quoted(byol_run));
  ASSERT_EQ(byol.exit_code, 0) << byol.output;

  const auto report_dir = out / "report";
  const auto compared = run_pretext(
      "compare --runs " + shell_quoted(out / "simclr" / "runs" / "simclr_resnet18_fmnist_seed0") +
      " " + shell_quoted(out / "simclr" / "runs" / "simclr_resnet18_fmnist_seed1") + " " +
      shell_quoted(byol_run) + " --evaluate --linear.epochs=3 --linear.max_iterations=30 --out " +
      shell_quoted(report_dir));
  ASSERT_EQ(compared.exit_code, 0) << compared.output;
  const std::string markdown = read_file(report_dir / "report.md");
  // The two seeds form one row with a spread; byol has one run.
  EXPECT_TRUE(std::regex_search(markdown, std::regex(R"(\| simclr \| 2 \| 2 \| [^|]+ ± [^|]+\|)")))
      << markdown;
  EXPECT_TRUE(std::regex_search(markdown, std::regex(R"(\| byol \| 1 \| 2 \| )"))) << markdown;
  for (const char* column :
       {"k-NN top-1 %", "linear (SGD) top-1 %", "linear (L-BFGS) top-1 %", "few-shot 10 top-1 %"}) {
    EXPECT_NE(markdown.find(column), std::string::npos) << column << "\n" << markdown;
  }
  EXPECT_TRUE(fs::exists(report_dir / "loss.svg"));
  EXPECT_TRUE(fs::exists(report_dir / "knn.svg"));  // the simclr runs logged k-NN per epoch
  const std::string svg = read_file(report_dir / "loss.svg");
  EXPECT_NE(svg.find(">byol</text>"), std::string::npos);

  const std::string dom = chromium_dom(fs::absolute(report_dir / "report.html"));
  ASSERT_FALSE(dom.empty()) << "chromium (scripts/install_deps.sh installs it) did not open "
                            << report_dir / "report.html";
  EXPECT_NE(dom.find("<table>"), std::string::npos) << dom;
  const std::regex svg_element("<svg ");
  EXPECT_EQ(std::distance(std::sregex_iterator(dom.begin(), dom.end(), svg_element),
                          std::sregex_iterator()),
            2)
      << dom;  // loss and k-NN charts parsed as SVG elements
}

TEST(EvaluationCommands, CompareRefusesBadArguments) {
  const auto out = fresh_dir("eval_compare_bad");
  const auto none = run_pretext("compare --out " + shell_quoted(out));
  EXPECT_EQ(none.exit_code, 2) << none.output;
  const auto missing =
      run_pretext("compare --runs " + shell_quoted(out / "nope") + " --out " + shell_quoted(out));
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("nope"), std::string::npos) << missing.output;
  const auto bad_config =
      run_pretext("compare --configs missing.cfg --out " + shell_quoted(out / "r"));
  EXPECT_EQ(bad_config.exit_code, 2) << bad_config.output;
  EXPECT_NE(bad_config.output.find("missing.cfg"), std::string::npos) << bad_config.output;
  EXPECT_FALSE(fs::exists(out / "r" / "runs"));
}

}  // namespace
}  // namespace pretext
