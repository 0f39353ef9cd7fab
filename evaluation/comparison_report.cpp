#include "evaluation/comparison_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "evaluation/svg_chart.h"

namespace pretext {
namespace {

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

std::string duration_text(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(seconds));
  char text[32];
  if (seconds < 60.0) {
    std::snprintf(text, sizeof(text), "%.1fs", seconds);
  } else if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%ldh%02ldm", static_cast<long>(total / 3600),
                  static_cast<long>(total % 3600 / 60));
  } else {
    std::snprintf(text, sizeof(text), "%ldm%02lds", static_cast<long>(total / 60),
                  static_cast<long>(total % 60));
  }
  return text;
}

std::string cell(const std::vector<double>& values, int decimals) {
  if (values.empty()) return "-";
  const MeanStd stats = mean_std(values);
  std::string text = fixed(stats.mean, decimals);
  // The spread over seeds; none when they agree exactly (epochs, a fixed setting).
  if (stats.count > 1 && stats.std > 0.0) text += " ± " + fixed(stats.std, decimals);
  return text;
}

// Accuracy columns in reading order: k-NN, linear probes, then few-shot by shots.
std::vector<std::string> accuracy_columns(const std::vector<RunGroup>& groups) {
  std::set<std::string> names;
  for (const auto& group : groups) {
    for (const auto& run : group.runs) {
      for (const auto& [name, value] : run.accuracies) names.insert(name);
    }
  }
  auto rank = [](const std::string& name) -> std::pair<int, double> {
    if (name == "k-NN") return {0, 0};
    if (name == "linear (SGD)") return {1, 0};
    if (name.rfind("linear", 0) == 0) return {2, 0};
    if (name.rfind("few-shot ", 0) == 0) return {3, std::atof(name.c_str() + 9)};
    return {4, 0};
  };
  std::vector<std::string> columns(names.begin(), names.end());
  std::stable_sort(columns.begin(), columns.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  return columns;
}

struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

Table comparison_table(const std::vector<RunGroup>& groups) {
  const auto columns = accuracy_columns(groups);
  Table table;
  table.header = {"objective", "runs", "epochs", "wall time", "images/s"};
  for (const auto& column : columns) table.header.push_back(column + " top-1 %");
  for (const auto& group : groups) {
    std::vector<double> epochs, seconds, rates;
    for (const auto& run : group.runs) {
      epochs.push_back(static_cast<double>(run.epochs));
      seconds.push_back(run.wall_seconds);
      rates.push_back(run.images_per_s);
    }
    const MeanStd time = mean_std(seconds);
    std::string time_text = duration_text(time.mean);
    if (time.count > 1 && time.std > 0.0) time_text += " ± " + duration_text(time.std);
    std::vector<std::string> row = {group.label, std::to_string(group.runs.size()), cell(epochs, 0),
                                    time_text, cell(rates, 0)};
    for (const auto& column : columns) {
      std::vector<double> values;
      for (const auto& run : group.runs) {
        const auto found = run.accuracies.find(column);
        if (found != run.accuracies.end()) values.push_back(found->second);
      }
      row.push_back(cell(values, 2));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

using Curve = std::vector<std::pair<double, double>>;

// The group's curve: per epoch, the mean over the runs that logged it.
Curve mean_curve(const RunGroup& group, Curve RunSummary::*curve) {
  std::map<double, std::vector<double>> by_epoch;
  for (const auto& run : group.runs) {
    for (const auto& [epoch, value] : run.*curve) by_epoch[epoch].push_back(value);
  }
  Curve mean;
  for (const auto& [epoch, values] : by_epoch) mean.emplace_back(epoch, mean_std(values).mean);
  return mean;
}

struct ChartFile {
  std::string file;
  LineChart chart;
};

std::vector<ChartFile> comparison_charts(const std::vector<RunGroup>& groups) {
  struct CurveSpec {
    const char* file;
    const char* title;
    const char* y_label;
    Curve RunSummary::*curve;
    bool always;
  };
  const CurveSpec specs[] = {
      {"loss.svg", "Training loss", "loss (epoch mean)", &RunSummary::loss_by_epoch, true},
      {"knn.svg", "k-NN accuracy during pretraining", "k-NN top-1 %", &RunSummary::knn_by_epoch,
       false},
      {"online_probe.svg", "Online linear probe accuracy", "online probe top-1 % (epoch mean)",
       &RunSummary::online_probe_by_epoch, false},
  };
  std::vector<ChartFile> charts;
  for (const auto& spec : specs) {
    ChartFile file{spec.file, {spec.title, "epoch", spec.y_label, {}}};
    bool any = false;
    for (const auto& group : groups) {
      Curve curve = mean_curve(group, spec.curve);
      any = any || !curve.empty();
      file.chart.series.push_back({group.label, std::move(curve)});
    }
    if (any || spec.always) charts.push_back(std::move(file));
  }
  return charts;
}

std::string markdown_table(const Table& table) {
  std::ostringstream out;
  auto row = [&](const std::vector<std::string>& cells) {
    out << "|";
    for (const auto& c : cells) out << " " << c << " |";
    out << "\n";
  };
  row(table.header);
  out << "|";
  for (size_t i = 0; i < table.header.size(); ++i) out << (i == 0 ? " --- |" : " ---: |");
  out << "\n";
  for (const auto& r : table.rows) row(r);
  return out.str();
}

std::string html_table(const Table& table) {
  std::ostringstream out;
  out << "<table>\n<tr>";
  for (const auto& h : table.header) out << "<th>" << xml_escape(h) << "</th>";
  out << "</tr>\n";
  for (const auto& r : table.rows) {
    out << "<tr>";
    for (const auto& c : r) out << "<td>" << xml_escape(c) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
  return out.str();
}

std::string runs_list(const std::vector<RunGroup>& groups, bool html) {
  std::ostringstream out;
  if (html) out << "<ul>\n";
  for (const auto& group : groups) {
    for (const auto& run : group.runs) {
      const std::string text = group.label + ": " + run.dir + " (seed " + std::to_string(run.seed) +
                               ", " + run.arch + ")";
      out << (html ? "<li>" + xml_escape(text) + "</li>\n" : "- " + text + "\n");
    }
  }
  if (html) out << "</ul>\n";
  return out.str();
}

}  // namespace

MeanStd mean_std(const std::vector<double>& values) {
  MeanStd stats;
  stats.count = static_cast<int64_t>(values.size());
  if (values.empty()) return stats;
  double sum = 0.0;
  for (const double v : values) sum += v;
  stats.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0.0;
    for (const double v : values) squares += (v - stats.mean) * (v - stats.mean);
    stats.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return stats;
}

std::vector<RunGroup> group_runs(const std::vector<RunSummary>& runs) {
  std::vector<RunGroup> groups;
  for (const auto& run : runs) {
    auto found = std::find_if(groups.begin(), groups.end(), [&](const RunGroup& g) {
      return g.runs.front().group_key == run.group_key;
    });
    if (found == groups.end()) {
      groups.push_back({run.objective, {run}});
    } else {
      found->runs.push_back(run);
    }
  }
  std::set<std::string> archs;
  for (const auto& group : groups) archs.insert(group.runs.front().arch);
  if (archs.size() > 1) {
    for (auto& group : groups) group.label += " / " + group.runs.front().arch;
  }
  std::map<std::string, int> seen;
  for (auto& group : groups) {
    const int n = ++seen[group.label];
    if (n > 1) group.label += " #" + std::to_string(n);
  }
  return groups;
}

ComparisonReport build_comparison_report(const std::vector<RunGroup>& groups) {
  const Table table = comparison_table(groups);
  const auto charts = comparison_charts(groups);
  ComparisonReport report;
  const std::string note =
      "Rows with several runs (seeds) show mean ± standard deviation. Wall time is training "
      "time; accuracies are top-1 on the test split.";

  std::ostringstream md;
  md << "# Objective comparison\n\n" << note << "\n\n" << markdown_table(table) << "\n";
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<title>pretext: objective comparison</title>\n<style>\n"
       << "body { font-family: sans-serif; margin: 2em; }\n"
       << "table { border-collapse: collapse; }\n"
       << "th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }\n"
       << "th:first-child, td:first-child { text-align: left; }\n"
       << "figure { margin: 1em 0; }\n</style>\n</head>\n<body>\n"
       << "<h1>Objective comparison</h1>\n<p>" << xml_escape(note) << "</p>\n"
       << html_table(table);
  for (const auto& chart : charts) {
    const std::string svg = render_svg(chart.chart);
    report.charts[chart.file] = svg;
    md << "![" << chart.chart.title << "](" << chart.file << ")\n\n";
    html << "<figure>\n" << svg << "</figure>\n";
  }
  md << "## Runs\n\n" << runs_list(groups, false);
  html << "<h2>Runs</h2>\n" << runs_list(groups, true) << "</body>\n</html>\n";
  report.markdown = md.str();
  report.html = html.str();
  return report;
}

}  // namespace pretext
