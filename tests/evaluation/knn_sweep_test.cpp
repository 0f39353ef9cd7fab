// The one-pass (k, T) sweep against the single-setting k-NN (itself checked against a brute
// force reference in knn_test.cpp), and few-shot bank sampling and statistics.
#include "evaluation/knn_sweep.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using KnnSweepTest = testing::Seeded;

TEST_F(KnnSweepTest, EveryEntryMatchesTheSingleSettingKnn) {
  const int64_t classes = 7;
  const auto bank = torch::randn({300, 12});
  const auto bank_labels = torch::randint(0, classes, {300}, torch::kLong);
  const auto queries = torch::randn({130, 12});
  const auto query_labels = torch::randint(0, classes, {130}, torch::kLong);
  KnnSweepOptions options;
  options.ks({1, 10, 20, 500}).temperatures({0.07, 0.5}).chunk_size(50);
  const auto entries = knn_sweep(bank, bank_labels, queries, query_labels, classes, options);
  ASSERT_EQ(entries.size(), 8u);
  for (const auto& entry : entries) {
    const auto single = knn_evaluate(bank, bank_labels, queries, query_labels, classes,
                                     KnnOptions().k(entry.k).temperature(entry.temperature));
    EXPECT_DOUBLE_EQ(entry.result.top1, single.top1)
        << "k=" << entry.k << " T=" << entry.temperature;
    EXPECT_DOUBLE_EQ(entry.result.top5, single.top5)
        << "k=" << entry.k << " T=" << entry.temperature;
    EXPECT_EQ(entry.result.num_queries, 130);
  }
  EXPECT_EQ(entries[0].k, 1);
  EXPECT_EQ(entries[1].temperature, 0.5);
}

TEST_F(KnnSweepTest, RejectsBadSettings) {
  const auto bank = torch::randn({5, 3});
  const auto labels = torch::zeros({5}, torch::kLong);
  EXPECT_THROW(knn_sweep(bank, labels, bank, labels, 2, KnnSweepOptions().ks({0})), c10::Error);
  EXPECT_THROW(knn_sweep(bank, labels, bank, labels, 2, KnnSweepOptions().temperatures({-1.0})),
               c10::Error);
  EXPECT_THROW(knn_sweep(bank, labels, bank, labels.slice(0, 0, 4), 2, KnnSweepOptions()),
               c10::Error);
}

TEST_F(KnnSweepTest, FewShotIndicesTakeExactlyNPerClassDeterministically) {
  const auto labels = torch::tensor({0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0}, torch::kLong);
  const auto a = few_shot_indices(labels, 3, 2, 5);
  EXPECT_TRUE(torch::equal(a, few_shot_indices(labels, 3, 2, 5)));
  ASSERT_EQ(a.numel(), 6);
  const auto picked = labels.index_select(0, a);
  for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(picked.eq(c).sum().item<int64_t>(), 2);
  std::set<int64_t> distinct(a.data_ptr<int64_t>(), a.data_ptr<int64_t>() + a.numel());
  EXPECT_EQ(distinct.size(), 6u);
  // Different seeds draw different banks (over a few seeds at least one differs).
  bool differs = false;
  for (uint64_t seed = 6; seed < 12; ++seed) {
    differs = differs || !torch::equal(a, few_shot_indices(labels, 3, 2, seed));
  }
  EXPECT_TRUE(differs);
  // A class with fewer samples than asked contributes all it has.
  EXPECT_EQ(few_shot_indices(labels, 3, 4, 0).numel(), 4 + 4 + 3);
}

TEST_F(KnnSweepTest, FewShotReportsMeanAndSampleStd) {
  const int64_t classes = 4;
  // Well separated clusters with a little noise: one shot per class already classifies well.
  const auto centers = torch::eye(classes) * 10.0;
  const auto bank_labels = torch::arange(200, torch::kLong) % classes;
  const auto bank = centers.index_select(0, bank_labels) + torch::randn({200, classes}) * 3.0;
  const auto query_labels = torch::arange(100, torch::kLong) % classes;
  const auto queries = centers.index_select(0, query_labels) + torch::randn({100, classes}) * 3.0;
  FewShotOptions options;
  options.shots({1, 20}).seeds({0, 1, 2});
  const auto results = few_shot_knn(bank, bank_labels, queries, query_labels, classes, options);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& result : results) {
    ASSERT_EQ(result.top1_per_seed.size(), 3u);
    const auto& v = result.top1_per_seed;
    const double mean = (v[0] + v[1] + v[2]) / 3.0;
    const double var = ((v[0] - mean) * (v[0] - mean) + (v[1] - mean) * (v[1] - mean) +
                        (v[2] - mean) * (v[2] - mean)) /
                       2.0;
    EXPECT_DOUBLE_EQ(result.mean_top1, mean);
    EXPECT_NEAR(result.std_top1, std::sqrt(var), 1e-12);
    // Each seed equals the k-NN on exactly that bank.
    const auto chosen = few_shot_indices(bank_labels, classes, result.shots, 1);
    const auto direct =
        knn_evaluate(bank.index_select(0, chosen), bank_labels.index_select(0, chosen), queries,
                     query_labels, classes, KnnOptions());
    EXPECT_DOUBLE_EQ(v[1], direct.top1);
  }
  EXPECT_GT(results[1].mean_top1, 90.0);
}

}  // namespace
}  // namespace pretext
