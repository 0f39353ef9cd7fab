// pretext side of bench/pipeline.sh: the SimCLR two-view 224 px pipeline (decode, crop, flip,
// jitter, grayscale, blur, collate into uint8 [B, 3, 224, 224] batches) through the real
// Loader over an unlabelled image folder, or decode only (the floor). Prints one JSON line.
//
// usage: pretext_bench_pipeline FOLDER_ROOT --workers N --batch B [--mode full|decode]
//        [--epochs E]   (FOLDER_ROOT/train holds the images)
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "data/image_folder.h"
#include "data/loader.h"
#include "data/sampler.h"
#include "data/views.h"

int main(int argc, char** argv) {
  using namespace pretext;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FOLDER_ROOT --workers N --batch B [--mode full|decode]\n",
                 argv[0]);
    return 2;
  }
  const std::string root = argv[1];
  int64_t workers = 0;
  int64_t batch = 64;
  int64_t epochs = 1;
  std::string mode = "full";
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--workers")
      workers = std::stoll(value);
    else if (flag == "--batch")
      batch = std::stoll(value);
    else if (flag == "--epochs")
      epochs = std::stoll(value);
    else if (flag == "--mode")
      mode = value;
  }
  // The allocator settings `pretext` itself starts with (train/allocator.cpp): decoded images
  // and views are large blocks, reused instead of mapped and zeroed afresh for every image.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
  // Per-core numbers: no hidden thread pools inside OpenCV or LibTorch.
  cv::setNumThreads(1);
  torch::set_num_threads(1);
  auto dataset = std::make_shared<ImageFolderDataset>(root, "train");
  const auto start = std::chrono::steady_clock::now();
  int64_t images = 0;
  if (mode == "decode") {
    for (int64_t e = 0; e < epochs; ++e) {
      for (int64_t i = 0; i < dataset->size(); ++i) {
        images += dataset->get(i).image.rows > 0 ? 1 : 0;
      }
    }
  } else {
    // SimCLR ImageNet defaults (AugmentOptions), two 224 px views.
    auto plan = std::make_shared<const ViewPlan>(
        std::vector<ViewGroup>{ViewGroup{2, 224, AugmentOptions(), true}});
    Loader loader(dataset, plan, ShardedSampler(dataset->size(), 0, true, 0, 1, false),
                  LoaderOptions().batch_size(batch).num_workers(workers).drop_last(false));
    for (int64_t e = 0; e < epochs; ++e) {
      loader.start_epoch(e);
      while (auto b = loader.next()) images += b->views[0].size(0);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "{\"side\": \"pretext\", \"mode\": \"%s\", \"workers\": %ld, \"images\": %ld, "
      "\"seconds\": %.4f, \"images_per_s\": %.2f}\n",
      mode.c_str(), static_cast<long>(workers), static_cast<long>(images), seconds,
      images / seconds);
  return 0;
}
