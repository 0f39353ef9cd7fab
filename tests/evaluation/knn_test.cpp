// Weighted k-NN: scores against a brute-force reference (explicit sort and votes, in double),
// accuracy on separable data, top-5 bookkeeping and input validation.
#include "evaluation/knn.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using KnnTest = testing::Seeded;

/// Reference: cosine similarity to every bank entry, sorted descending, the first k vote
/// for their label with weight exp(sim / T).
torch::Tensor brute_force_scores(const torch::Tensor& bank, const torch::Tensor& bank_labels,
                                 const torch::Tensor& queries, int64_t num_classes, int64_t k,
                                 double temperature) {
  const auto b = bank.to(torch::kDouble).contiguous();
  const auto q = queries.to(torch::kDouble).contiguous();
  const int64_t n = b.size(0);
  const int64_t d = b.size(1);
  const auto* bp = b.data_ptr<double>();
  const auto* qp = q.data_ptr<double>();
  const auto* lp = bank_labels.to(torch::kLong).contiguous().data_ptr<int64_t>();
  auto scores = torch::zeros({q.size(0), num_classes}, torch::kDouble);
  auto* sp = scores.data_ptr<double>();
  auto norm = [d](const double* v) {
    double s = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      s += v[j] * v[j];
    }
    return std::sqrt(s);
  };
  for (int64_t i = 0; i < q.size(0); ++i) {
    const double* qi = qp + i * d;
    std::vector<double> sim(static_cast<size_t>(n));
    for (int64_t m = 0; m < n; ++m) {
      const double* bm = bp + m * d;
      double dot = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        dot += qi[j] * bm[j];
      }
      sim[static_cast<size_t>(m)] = dot / (norm(qi) * norm(bm));
    }
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&sim](int64_t a, int64_t c) { return sim[a] > sim[c]; });
    for (int64_t r = 0; r < std::min(k, n); ++r) {
      const int64_t m = order[static_cast<size_t>(r)];
      sp[i * num_classes + lp[m]] += std::exp(sim[static_cast<size_t>(m)] / temperature);
    }
  }
  return scores;
}

TEST_F(KnnTest, MatchesBruteForceReference) {
  const int64_t num_classes = 5;
  const auto bank = torch::randn({40, 8});
  const auto bank_labels = torch::randint(0, num_classes, {40}, torch::kLong);
  const auto queries = torch::randn({13, 8}) * 3.0;  // unnormalized on purpose
  struct Case {
    int64_t k;
    double temperature;
    int64_t chunk_size;
  };
  for (const Case& c : {Case{1, 0.07, 4}, Case{5, 0.07, 3}, Case{10, 0.5, 5}, Case{20, 1.0, 13},
                        Case{40, 0.1, 7}, Case{100, 0.2, 2}}) {
    const auto options = KnnOptions().k(c.k).temperature(c.temperature).chunk_size(c.chunk_size);
    const auto scores = knn_scores(bank, bank_labels, queries, num_classes, options);
    const auto expected =
        brute_force_scores(bank, bank_labels, queries, num_classes, c.k, c.temperature);
    ASSERT_EQ(scores.sizes(), torch::IntArrayRef({13, num_classes}));
    EXPECT_EQ(scores.scalar_type(), torch::kFloat);
    EXPECT_TRUE(torch::allclose(scores.to(torch::kDouble), expected, /*rtol=*/1e-4, /*atol=*/1e-6))
        << "k=" << c.k << " T=" << c.temperature << " chunk=" << c.chunk_size << "\n"
        << (scores.to(torch::kDouble) - expected).abs().max();
  }
}

TEST_F(KnnTest, EvaluateMatchesReferenceAccuracy) {
  const int64_t num_classes = 7;
  const auto bank = torch::randn({50, 6});
  const auto bank_labels = torch::arange(50) % num_classes;
  const auto queries = torch::randn({21, 6});
  const auto query_labels = torch::randint(0, num_classes, {21}, torch::kLong);
  // k covers the whole bank, so every class present gets a positive score and the ranking
  // has no ties among zero-score classes (whose order top-k leaves unspecified).
  const auto options = KnnOptions().k(50).temperature(0.1).chunk_size(4);
  const auto expected = brute_force_scores(bank, bank_labels, queries, num_classes, 50, 0.1);
  int64_t top1 = 0;
  int64_t top5 = 0;
  for (int64_t i = 0; i < 21; ++i) {
    const auto ranked = std::get<1>(expected[i].sort(/*dim=*/0, /*descending=*/true));
    const int64_t label = query_labels[i].item<int64_t>();
    top1 += ranked[0].item<int64_t>() == label;
    top5 += ranked.slice(0, 0, 5).eq(label).any().item<bool>();
  }
  const auto result = knn_evaluate(bank, bank_labels, queries, query_labels, num_classes, options);
  EXPECT_EQ(result.num_queries, 21);
  EXPECT_NEAR(result.top1, 100.0 * top1 / 21.0, 1e-9);
  EXPECT_NEAR(result.top5, 100.0 * top5 / 21.0, 1e-9);
  EXPECT_LE(result.top1, result.top5);
}

TEST_F(KnnTest, SeparableClustersAreClassifiedPerfectly) {
  // Each class sits around its own orthogonal direction with small noise.
  const int64_t num_classes = 4;
  const int64_t dim = 16;
  auto make = [&](int64_t per_class) {
    const auto labels = torch::arange(num_classes).repeat_interleave(per_class);
    const auto centers = torch::eye(dim).slice(0, 0, num_classes) * 5.0;
    const auto features =
        centers.index_select(0, labels) + 0.3 * torch::randn({labels.size(0), dim});
    return std::make_pair(features, labels);
  };
  const auto [bank, bank_labels] = make(25);
  const auto [queries, query_labels] = make(10);
  const auto result = knn_evaluate(bank, bank_labels, queries, query_labels, num_classes,
                                   KnnOptions().k(20).chunk_size(7));
  EXPECT_EQ(result.num_queries, 40);
  EXPECT_DOUBLE_EQ(result.top1, 100.0);
  EXPECT_DOUBLE_EQ(result.top5, 100.0);
}

TEST_F(KnnTest, FewClassesTopFiveIsCertain) {
  // With 3 classes, top-5 covers min(5, 3) = 3 classes: every query is a hit.
  const auto bank = torch::randn({12, 4});
  const auto bank_labels = torch::randint(0, 3, {12}, torch::kLong);
  const auto queries = torch::randn({9, 4});
  const auto query_labels = torch::randint(0, 3, {9}, torch::kLong);
  const auto result = knn_evaluate(bank, bank_labels, queries, query_labels, 3, KnnOptions());
  EXPECT_DOUBLE_EQ(result.top5, 100.0);
}

TEST_F(KnnTest, EmptyQueries) {
  const auto result =
      knn_evaluate(torch::randn({4, 3}), torch::zeros({4}, torch::kLong), torch::randn({0, 3}),
                   torch::zeros({0}, torch::kLong), 2, KnnOptions());
  EXPECT_EQ(result.num_queries, 0);
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "";
}

TEST_F(KnnTest, ValidatesInputs) {
  const auto bank = torch::randn({6, 4});
  const auto labels = torch::tensor({0, 1, 2, 0, 1, 2}, torch::kLong);
  const auto queries = torch::randn({3, 4});
  const KnnOptions options;
  std::string message = error_of([&] {
    knn_scores(bank, torch::tensor({0, 1, 5, 0, 1, 2}), queries, 3, options);
  });
  EXPECT_NE(message.find("[0, 5]"), std::string::npos) << message;
  message = error_of([&] {
    knn_scores(bank, torch::tensor({0, -1, 2, 0, 1, 2}), queries, 3, options);
  });
  EXPECT_NE(message.find("[-1, 2]"), std::string::npos) << message;
  message = error_of([&] { knn_scores(bank, labels.slice(0, 0, 5), queries, 3, options); });
  EXPECT_NE(message.find("[6]"), std::string::npos) << message;
  message = error_of([&] { knn_scores(bank, labels, torch::randn({3, 5}), 3, options); });
  EXPECT_NE(message.find("[3, 5]"), std::string::npos) << message;
  EXPECT_THROW(knn_scores(bank, labels.to(torch::kFloat), queries, 3, options), c10::Error);
  EXPECT_THROW(
      knn_scores(torch::randn({0, 4}), torch::zeros({0}, torch::kLong), queries, 3, options),
      c10::Error);
  EXPECT_THROW(knn_scores(bank, labels, queries, 3, KnnOptions().k(0)), c10::ValueError);
  EXPECT_THROW(knn_scores(bank, labels, queries, 3, KnnOptions().temperature(0.0)),
               c10::ValueError);
  EXPECT_THROW(knn_scores(bank, labels, queries, 3, KnnOptions().chunk_size(0)), c10::ValueError);
  EXPECT_THROW(knn_scores(bank, labels, queries, 0, options), c10::ValueError);
  message = error_of([&] {
    knn_evaluate(bank, labels, queries, torch::tensor({0, 1, 3}), 3, options);
  });
  EXPECT_NE(message.find("query_labels"), std::string::npos) << message;
  EXPECT_THROW(knn_evaluate(bank, labels, queries, torch::tensor({0, 1}), 3, options), c10::Error);
}

}  // namespace
}  // namespace pretext
