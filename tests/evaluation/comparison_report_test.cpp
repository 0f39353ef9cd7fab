// Comparison reports: grouping by configuration, mean and sample standard deviation over seeds,
// the table's cells, the charts' curves (per-epoch means over seeds), axis ticks, escaping.
#include "evaluation/comparison_report.h"

#include <cmath>
#include <regex>

#include <gtest/gtest.h>

#include "evaluation/svg_chart.h"

namespace pretext {
namespace {

RunSummary run(const std::string& dir, const std::string& key, const std::string& objective,
               int64_t seed, double knn) {
  RunSummary r;
  r.dir = dir;
  r.group_key = key;
  r.objective = objective;
  r.arch = "resnet18";
  r.seed = seed;
  r.epochs = 2;
  r.wall_seconds = 125.0;
  r.images_per_s = 300.0;
  r.loss_by_epoch = {{1, 5.0 + seed}, {2, 4.0 + seed}};
  r.accuracies["k-NN"] = knn;
  return r;
}

TEST(ComparisonReport, MeanAndSampleStandardDeviation) {
  const MeanStd stats = mean_std({2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});
  EXPECT_DOUBLE_EQ(stats.mean, 5.0);
  EXPECT_NEAR(stats.std, std::sqrt(32.0 / 7.0), 1e-12);  // n - 1 in the denominator
  EXPECT_EQ(stats.count, 8);
  EXPECT_DOUBLE_EQ(mean_std({3.0}).std, 0.0);
  EXPECT_EQ(mean_std({}).count, 0);
}

TEST(ComparisonReport, GroupsRunsThatDifferOnlyInSeed) {
  const auto groups = group_runs({run("a0", "A", "simclr", 0, 80), run("b0", "B", "byol", 0, 70),
                                  run("a1", "A", "simclr", 1, 82), run("c0", "C", "simclr", 0, 1)});
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[0].label, "simclr");
  EXPECT_EQ(groups[0].runs.size(), 2u);
  EXPECT_EQ(groups[0].runs[1].dir, "a1");
  EXPECT_EQ(groups[1].label, "byol");
  EXPECT_EQ(groups[2].label, "simclr #2");  // another simclr configuration

  auto other_arch = run("v0", "V", "simclr", 0, 60);
  other_arch.arch = "vit_tiny";
  const auto by_arch = group_runs({run("a0", "A", "simclr", 0, 80), other_arch});
  EXPECT_EQ(by_arch[0].label, "simclr / resnet18");
  EXPECT_EQ(by_arch[1].label, "simclr / vit_tiny");
}

TEST(ComparisonReport, TableCellsAndCharts) {
  auto a0 = run("runs/a0", "A", "simclr", 0, 80.0);
  auto a1 = run("runs/a1", "A", "simclr", 1, 82.0);
  a1.wall_seconds = 135.0;
  a0.accuracies["linear (L-BFGS)"] = 84.0;
  a0.accuracies["linear (SGD)"] = 85.0;
  a1.accuracies["linear (SGD)"] = 86.0;
  a0.accuracies["few-shot 10"] = 60.0;
  a0.accuracies["few-shot 5"] = 50.0;
  a0.knn_by_epoch = {{1, 70.0}, {2, 78.0}};
  a1.knn_by_epoch = {{1, 72.0}};
  auto b = run("runs/b<0>", "B", "byol", 0, 75.0);
  const auto report = build_comparison_report(group_runs({a0, b, a1}));

  // Header: fixed columns, then k-NN, linear, few-shot by increasing shots.
  EXPECT_NE(report.markdown.find(
                "| objective | runs | epochs | wall time | images/s | k-NN top-1 % "
                "| linear (SGD) top-1 % | linear (L-BFGS) top-1 % | few-shot 5 top-1 % | "
                "few-shot 10 top-1 % |"),
            std::string::npos)
      << report.markdown;
  // mean +- sample std of 80, 82 is 81 +- 1.41; 125 s and 135 s -> 2m10s +- 7.1 s.
  EXPECT_NE(report.markdown.find("| simclr | 2 | 2 | 2m10s ± 7.1s | 300 | 81.00 ± 1.41 | 85.50 ± "
                                 "0.71 | 84.00 | 50.00 | 60.00 |"),
            std::string::npos)
      << report.markdown;
  EXPECT_NE(report.markdown.find("| byol | 1 | 2 | 2m05s | 300 | 75.00 | - | - | - | - |"),
            std::string::npos)
      << report.markdown;
  EXPECT_NE(report.markdown.find("![Training loss](loss.svg)"), std::string::npos);
  EXPECT_NE(report.markdown.find("![k-NN accuracy during pretraining](knn.svg)"),
            std::string::npos);

  ASSERT_EQ(report.charts.count("loss.svg"), 1u);
  ASSERT_EQ(report.charts.count("knn.svg"), 1u);
  EXPECT_EQ(report.charts.count("online_probe.svg"), 0u);  // no run logged it
  // Two series per chart, one polyline each where the group has points.
  const std::string& loss = report.charts.at("loss.svg");
  const std::regex polyline("<polyline");
  EXPECT_EQ(std::distance(std::sregex_iterator(loss.begin(), loss.end(), polyline),
                          std::sregex_iterator()),
            2);
  EXPECT_NE(loss.find(">simclr</text>"), std::string::npos);
  EXPECT_NE(loss.find(">byol</text>"), std::string::npos);

  // The HTML escapes names and carries the charts inline.
  EXPECT_NE(report.html.find("runs/b&lt;0&gt;"), std::string::npos);
  EXPECT_EQ(report.html.find("runs/b<0>"), std::string::npos);
  EXPECT_NE(report.html.find("<svg"), std::string::npos);
  EXPECT_EQ(report.html.rfind("</html>\n"), report.html.size() - 8);
}

TEST(SvgChart, SeriesMeanPointsLandWhereTheAxesSay) {
  // One series from (0, 0) to (10, 100): the first point sits at the plot's bottom-left corner
  // and the last at the top-right (ticks 0..10 and 0..100 frame the data exactly).
  LineChart chart{"t", "x", "y", {{"s", {{0, 0}, {10, 100}}}}};
  const std::string svg = render_svg(chart, 640, 360);
  // Plot area: left 64, right margin 170, top 34, bottom margin 48 -> x 64..470, y 34..312.
  EXPECT_NE(svg.find("points=\"64.0,312.0 470.0,34.0\""), std::string::npos) << svg;
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

TEST(SvgChart, NiceTicksAndEscaping) {
  EXPECT_EQ(axis_ticks(0, 10), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(axis_ticks(0.3, 0.9), (std::vector<double>{0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(axis_ticks(71.3, 84.6), (std::vector<double>{70, 75, 80, 85}));
  EXPECT_EQ(axis_ticks(-3, 7), (std::vector<double>{-4, -2, 0, 2, 4, 6, 8}));
  EXPECT_EQ(axis_ticks(5, 5), (std::vector<double>{5}));
  EXPECT_EQ(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

}  // namespace
}  // namespace pretext
