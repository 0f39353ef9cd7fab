#include "evaluation/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace pretext {
namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string number_text(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", std::abs(value) < 1e-12 ? 0.0 : value);
  return text;
}

std::string coordinate(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> axis_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw_step = (hi - lo) / std::max(target, 1);
  const int exponent = static_cast<int>(std::floor(std::log10(raw_step)));
  const double magnitude = std::pow(10.0, exponent);
  double factor = 10.0;
  for (const double f : {1.0, 2.0, 5.0}) {
    if (f * magnitude >= raw_step) {
      factor = f;
      break;
    }
  }
  const double step = factor * magnitude;
  // Tick k is k * factor * 10^exponent; dividing by 10^-exponent keeps 0.6 exact, not 0.6000001.
  const auto tick_at = [&](int64_t k) {
    const double units = static_cast<double>(k) * factor;
    return exponent < 0 ? units / std::pow(10.0, -exponent) : units * magnitude;
  };
  std::vector<double> ticks;
  const auto first = static_cast<int64_t>(std::floor(lo / step + 1e-9));
  const auto last = static_cast<int64_t>(std::ceil(hi / step - 1e-9));
  for (int64_t k = first; k <= last; ++k) ticks.push_back(tick_at(k));
  return ticks;
}

std::string render_svg(const LineChart& chart, int width, int height) {
  constexpr double kLeft = 64, kRight = 170, kTop = 34, kBottom = 48;
  const double plot_w = width - kLeft - kRight;
  const double plot_h = height - kTop - kBottom;

  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const auto& series : chart.series) {
    for (const auto& [x, y] : series.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  if (x_hi <= x_lo) x_lo -= 0.5, x_hi += 0.5;
  if (y_hi <= y_lo) y_lo -= 0.5, y_hi += 0.5;
  auto x_ticks = axis_ticks(x_lo, x_hi);
  // Epochs and steps are whole numbers: no ticks between them.
  bool integer_x = true;
  for (const auto& series : chart.series) {
    for (const auto& point : series.points)
      integer_x = integer_x && point.first == std::round(point.first);
  }
  if (integer_x) {
    std::vector<double> whole;
    for (const double tick : x_ticks) {
      if (tick == std::round(tick)) whole.push_back(tick);
    }
    if (whole.size() >= 2) x_ticks = whole;
  }
  const auto y_ticks = axis_ticks(y_lo, y_hi);
  // The axes run from the first tick to the last, which enclose the data.
  x_lo = x_ticks.front(), x_hi = x_ticks.back();
  y_lo = y_ticks.front(), y_hi = y_ticks.back();
  const auto px = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * plot_w; };
  const auto py = [&](double y) { return kTop + (1.0 - (y - y_lo) / (y_hi - y_lo)) * plot_h; };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"14\" font-weight=\"bold\">"
      << xml_escape(chart.title) << "</text>\n";
  for (const double tick : x_ticks) {
    const auto x = coordinate(px(tick));
    svg << "<line x1=\"" << x << "\" y1=\"" << kTop << "\" x2=\"" << x << "\" y2=\""
        << kTop + plot_h << "\" stroke=\"#e0e0e0\"/>\n"
        << "<text x=\"" << x << "\" y=\"" << kTop + plot_h + 16 << "\" text-anchor=\"middle\">"
        << number_text(tick) << "</text>\n";
  }
  for (const double tick : y_ticks) {
    const auto y = coordinate(py(tick));
    svg << "<line x1=\"" << kLeft << "\" y1=\"" << y << "\" x2=\"" << kLeft + plot_w << "\" y2=\""
        << y << "\" stroke=\"#e0e0e0\"/>\n"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << y
        << "\" text-anchor=\"end\" dominant-baseline=\"middle\">" << number_text(tick)
        << "</text>\n";
  }
  svg << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << plot_w << "\" height=\""
      << plot_h << "\" fill=\"none\" stroke=\"#444\"/>\n"
      << "<text x=\"" << kLeft + plot_w / 2 << "\" y=\"" << height - 10
      << "\" text-anchor=\"middle\">" << xml_escape(chart.x_label) << "</text>\n"
      << "<text transform=\"translate(16 " << kTop + plot_h / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(chart.y_label) << "</text>\n";

  for (size_t s = 0; s < chart.series.size(); ++s) {
    const auto& series = chart.series[s];
    const char* colour = kColours[s % (sizeof(kColours) / sizeof(kColours[0]))];
    std::string points;
    for (const auto& [x, y] : series.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      points += (points.empty() ? "" : " ") + coordinate(px(x)) + "," + coordinate(py(y));
      svg << "<circle cx=\"" << coordinate(px(x)) << "\" cy=\"" << coordinate(py(y))
          << "\" r=\"2.5\" fill=\"" << colour << "\"/>\n";
    }
    if (!points.empty()) {
      svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\" points=\""
          << points << "\"/>\n";
    }
    const double legend_y = kTop + 8 + 18.0 * static_cast<double>(s);
    svg << "<line x1=\"" << kLeft + plot_w + 12 << "\" y1=\"" << legend_y << "\" x2=\""
        << kLeft + plot_w + 32 << "\" y2=\"" << legend_y << "\" stroke=\"" << colour
        << "\" stroke-width=\"3\"/>\n"
        << "<text x=\"" << kLeft + plot_w + 38 << "\" y=\"" << legend_y
        << "\" dominant-baseline=\"middle\">" << xml_escape(series.label) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace pretext
