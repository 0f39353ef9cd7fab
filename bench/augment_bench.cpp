// Google Benchmark micro-benchmarks: one per augmentation of data/augment.h, plus JPEG decoding
// at full and reduced size and the whole SimCLR view, on a 500x375 RGB image (ImageNet-sized)
// and 224 px views. Run: build/bench/pretext_bench_augment [--benchmark_filter=...].
#include <benchmark/benchmark.h>

#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "data/augment.h"
#include "data/image_decode.h"
#include "data/views.h"

namespace pretext {
namespace {

/// Smooth colour field plus grain: photo-like content, so blur and JPEG costs are realistic.
cv::Mat photo_like(int rows, int cols) {
  cv::Mat coarse(4, 6, CV_8UC3);
  cv::randu(coarse, cv::Scalar::all(0), cv::Scalar::all(256));
  cv::Mat image;
  cv::resize(coarse, image, cv::Size(cols, rows), 0, 0, cv::INTER_CUBIC);
  cv::Mat grain(rows, cols, CV_8UC3);
  cv::randn(grain, cv::Scalar::all(0), cv::Scalar::all(6));
  cv::add(image, grain, image);
  return image;
}

const cv::Mat& source_image() {
  static const cv::Mat image = photo_like(375, 500);
  return image;
}

const cv::Mat& view_image() {
  static const cv::Mat image = photo_like(224, 224);
  return image;
}

void BM_DecodeJpeg(benchmark::State& state) {
  std::vector<uint8_t> bytes;
  cv::imencode(".jpg", source_image(), bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
  DecodeOptions options;
  options.min_side = state.range(0);  // 0: full size; 150: libjpeg decodes at 1/2
  for (auto _ : state) {
    benchmark::DoNotOptimize(decode_image(bytes.data(), bytes.size(), "bench", options));
  }
}
BENCHMARK(BM_DecodeJpeg)->Arg(0)->Arg(150);

void BM_RandomResizedCrop(benchmark::State& state) {
  Rng rng(1);
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        random_resized_crop(source_image(), 224, 0.08, 1.0, 0.75, 4.0 / 3.0, rng));
  }
}
BENCHMARK(BM_RandomResizedCrop);

void BM_HorizontalFlip(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(horizontal_flip(view_image()));
}
BENCHMARK(BM_HorizontalFlip);

void BM_AdjustBrightness(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(adjust_brightness(view_image(), 1.3));
}
BENCHMARK(BM_AdjustBrightness);

void BM_AdjustContrast(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(adjust_contrast(view_image(), 1.3));
}
BENCHMARK(BM_AdjustContrast);

void BM_AdjustSaturation(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(adjust_saturation(view_image(), 1.3));
}
BENCHMARK(BM_AdjustSaturation);

void BM_AdjustHue(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(adjust_hue(view_image(), 0.07));
}
BENCHMARK(BM_AdjustHue);

void BM_ColorJitter(benchmark::State& state) {
  Rng rng(2);
  const ColorJitterOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(color_jitter(view_image(), options, rng));
}
BENCHMARK(BM_ColorJitter);

void BM_Grayscale(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(to_grayscale(view_image()));
}
BENCHMARK(BM_Grayscale);

void BM_GaussianBlur23(benchmark::State& state) {
  Rng rng(3);
  for (auto _ : state) benchmark::DoNotOptimize(gaussian_blur(view_image(), 23, 0.1, 2.0, rng));
}
BENCHMARK(BM_GaussianBlur23);

void BM_Solarize(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(solarize(view_image()));
}
BENCHMARK(BM_Solarize);

void BM_ResizeCenterCrop(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(resize_center_crop(source_image(), 224));
}
BENCHMARK(BM_ResizeCenterCrop);

void BM_SimclrView(benchmark::State& state) {
  Rng rng(4);
  const AugmentOptions options;
  for (auto _ : state) benchmark::DoNotOptimize(augment_view(source_image(), 224, options, rng));
}
BENCHMARK(BM_SimclrView);

}  // namespace
}  // namespace pretext

int main(int argc, char** argv) {
  cv::setNumThreads(1);  // per-core numbers
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
