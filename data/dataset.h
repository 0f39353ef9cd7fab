// A random-access image dataset. Readers (IDX, image folders, and later CIFAR, HDF5) implement
// it; the loader calls get() from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>
#include <opencv2/core.hpp>

namespace pretext {

struct Sample {
  cv::Mat image;       ///< uint8, HxWx1 (grayscale) or HxWx3 (RGB); owns its pixels
  int64_t label = -1;  ///< class index, -1 when the dataset is unlabelled
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  /// 1 or 3; every image of the dataset has this many channels.
  virtual int64_t channels() const = 0;
  /// 0 when unlabelled.
  virtual int64_t num_classes() const = 0;
  /// Thread-safe. index in [0, size()).
  virtual Sample get(int64_t index) const = 0;
  /// Human-readable origin for messages, e.g. the file path.
  virtual std::string describe() const = 0;
};

struct DatasetOptions {
  /// fashion_mnist | mnist (IDX files, gzip or plain) | image_folder (JPEG/PNG files in
  /// <root>/<split>/<class>/, torchvision ImageFolder layout; "val" serves when "test" is absent).
  TORCH_ARG(std::string, name) = "fashion_mnist";
  /// Folder holding the dataset files.
  TORCH_ARG(std::string, root) = "/usr/share/datasets/fashion-mnist";
  /// Use only the first `limit` samples of each split (0 = all); for quick runs and tests.
  /// image_folder lists samples class by class, so a small limit covers only the first classes.
  TORCH_ARG(int64_t, limit) = 0;
};

/// Opens split "train" or "test" of the configured dataset; unknown names list the known ones,
/// missing files name the path.
std::shared_ptr<Dataset> open_dataset(const DatasetOptions& options, const std::string& split);

}  // namespace pretext
