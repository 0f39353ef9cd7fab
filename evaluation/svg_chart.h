// Line charts as standalone SVG (no scripts, no external resources), so a report's curves open
// in any browser, Markdown viewer or image tool.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pretext {

struct ChartSeries {
  std::string label;
  std::vector<std::pair<double, double>> points;  ///< (x, y), drawn in order
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<ChartSeries> series;
};

/// "Nice" axis ticks (steps of 1, 2 or 5 x 10^n), about `target` intervals, the first at or
/// below `lo` and the last at or above `hi`.
std::vector<double> axis_ticks(double lo, double hi, int target = 5);

/// The chart as an SVG document (width x height pixels): axes with ticks, one polyline and
/// point markers per series, a legend. Series with no points are listed in the legend only;
/// non-finite points are skipped.
std::string render_svg(const LineChart& chart, int width = 640, int height = 360);

/// `text` with &, <, >, " escaped for XML/HTML.
std::string xml_escape(const std::string& text);

}  // namespace pretext
