// The evaluation feature cache (<run>/features/<checkpoint>_<split>.h5): reused while the
// checkpoint file and the [data]/[model] settings are unchanged, recomputed after a new
// checkpoint is written at the same path or a key the features depend on changes. A stale hit
// would report wrong accuracies silently, so each case is told apart by the values returned:
// the cached file is overwritten with marked features that only a cache hit can return.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "distributed/comm.h"
#include "evaluation/feature_file.h"
#include "launch/components.h"
#include "launch/evaluation_inputs.h"
#include "tests/launch/process.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

namespace fs = std::filesystem;
using testing::fresh_dir;
using testing::run_pretext;

/// Trains `steps` steps of the tiny SimCLR run into `run`; returns its last checkpoint.
std::string train(const fs::path& run, int steps, int seed) {
  const auto result =
      run_pretext("train " + testing::small_run_flags() +
                  "--eval.after_train=false --train.max_steps=" + std::to_string(steps) +
                  " --train.seed=" + std::to_string(seed) + " --output '" + run.string() + "'");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return (run / "checkpoints" / "last.ckpt").string();
}

/// The test split's features through the cache, as `pretext knn` computes them.
Features cached_test_features(const std::string& checkpoint,
                              const std::vector<std::string>& overrides) {
  LocalComm comm;
  CheckpointRun run = load_checkpoint_weights(checkpoint, overrides, comm);
  return cached_checkpoint_features(checkpoint, run.objective->eval_encoder(), run.config, "test",
                                    comm);
}

/// Rewrites the cache file with features + 1000 and the same provenance: a marked hit.
void mark_cache(const fs::path& cache) {
  FeatureFile file = read_feature_file(cache.string());
  file.features.features = file.features.features + 1000.0;
  write_feature_file(cache.string(), file.features, file.provenance);
}

bool marked(const Features& features) { return features.features.min().item<double>() > 500.0; }

TEST(FeatureCache, ReusedWhileUnchangedRecomputedAfterANewCheckpointOrAChangedKey) {
  const auto dir = fresh_dir("feature_cache");
  const std::vector<std::string> small = {"data.limit=64", "train.threads=1"};
  const std::string checkpoint = train(dir / "run", 2, 0);
  const fs::path cache = dir / "run" / "features" / "last_test.h5";

  const Features first = cached_test_features(checkpoint, small);
  ASSERT_TRUE(fs::exists(cache));
  EXPECT_FALSE(marked(first));
  mark_cache(cache);

  // Unchanged checkpoint and settings: the cached file answers.
  const Features again = cached_test_features(checkpoint, small);
  EXPECT_TRUE(marked(again));
  EXPECT_TRUE(torch::allclose(again.features - 1000.0, first.features, 1e-4, 1e-3));

  // A key the features depend on ([data] normalization here) changes: recomputed.
  std::vector<std::string> other_mean = small;
  other_mean.push_back("data.mean=0.3");
  const Features renormalized = cached_test_features(checkpoint, other_mean);
  EXPECT_FALSE(marked(renormalized));
  EXPECT_FALSE(torch::allclose(renormalized.features, first.features));

  // A different checkpoint written at the same path (more steps, another seed) next to the
  // old, marked cache: recomputed, and what extracting with no cache at all gives.
  EXPECT_FALSE(marked(cached_test_features(checkpoint, small)));  // back to the first key
  mark_cache(cache);
  ASSERT_TRUE(marked(cached_test_features(checkpoint, small)));
  const fs::path stale = dir / "stale_test.h5";
  fs::copy_file(cache, stale);
  fs::remove_all(dir / "run");
  ASSERT_EQ(train(dir / "run", 3, 1), checkpoint);
  fs::create_directories(cache.parent_path());
  fs::copy_file(stale, cache, fs::copy_options::overwrite_existing);
  const Features retrained = cached_test_features(checkpoint, small);
  EXPECT_FALSE(marked(retrained));
  EXPECT_FALSE(torch::allclose(retrained.features, first.features));
  fs::remove(cache);
  EXPECT_TRUE(torch::equal(cached_test_features(checkpoint, small).features, retrained.features));
}

}  // namespace
}  // namespace pretext
