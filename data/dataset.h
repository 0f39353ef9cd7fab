// A random-access image dataset. Readers (IDX, CIFAR, STL-10, image folders) implement it; the
// loader calls get() from several threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include <torch/torch.h>
#include <opencv2/core.hpp>

namespace pretext {

/// A sample whose file cannot become an image (empty, truncated, not an image, a type not
/// accepted, over the pixel limit). Dataset::get throws it for bad data only, so the loader can
/// skip the sample under data.on_error=skip and `pretext audit` can list it; anything else
/// thrown is a failure of the run.
class UnreadableSample : public std::runtime_error {
 public:
  UnreadableSample(std::string source, std::string reason)
      : std::runtime_error("cannot read '" + source + "': " + reason),
        source_(std::move(source)),
        reason_(std::move(reason)) {}
  const std::string& source() const { return source_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string source_;
  std::string reason_;
};

/// What the views cut from a sample need from its pixels, so a reader may decode a large JPEG at
/// 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling, several times faster) when that loses nothing
/// the views can show. A shrink k is allowed when both hold for the W x H image:
/// min(W, H) / k >= min_shorter_side and sqrt(W * H) / k >= min_sqrt_area. 0 = no constraint;
/// both 0 = full size.
struct ViewNeeds {
  int64_t min_shorter_side = 0;  ///< resize-and-center-crop views: their size
  double min_sqrt_area = 0.0;    ///< random crops: view size / smallest crop side per sqrt(area)
};

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
  /// get() for a loader that will cut views described by `needs` from the image: readers of
  /// encoded images may decode it smaller (see ViewNeeds); others return get(index).
  virtual Sample get_for_views(int64_t index, const ViewNeeds& needs) const { return get(index); }
  /// The label of sample `index` (-1 when unlabelled); readers that know it without decoding
  /// override this.
  virtual int64_t label(int64_t index) const { return get(index).label; }
  /// Human-readable origin for messages, e.g. the file path.
  virtual std::string describe() const = 0;
  /// Where sample `index` comes from, for messages and reports: its file path, or file and byte
  /// offset for record files.
  virtual std::string source(int64_t index) const {
    return describe() + " sample " + std::to_string(index);
  }
};

struct DatasetOptions {
  /// fashion_mnist | mnist (IDX files, gzip or plain) | cifar10 | cifar100 | stl10 (official
  /// binary versions) | image_folder (JPEG/PNG files in <root>/<split>/<class>/, torchvision
  /// ImageFolder layout; "val" serves when "test" is absent) | hdf5 (shards written by
  /// `pretext pack --out PREFIX`; root is PREFIX).
  TORCH_ARG(std::string, name) = "fashion_mnist";
  /// Folder holding the dataset files.
  TORCH_ARG(std::string, root) = "/usr/share/datasets/fashion-mnist";
  /// Use only the first `limit` samples of each split (0 = all); for quick runs and tests.
  /// image_folder lists samples class by class, so a small limit covers only the first classes.
  TORCH_ARG(int64_t, limit) = 0;
  /// cifar100: fine (100 classes) | coarse (20 superclasses).
  TORCH_ARG(std::string, cifar100_labels) = "fine";
  /// stl10 training split: train (5000 labelled) | unlabeled (100000) | train+unlabeled.
  TORCH_ARG(std::string, stl10_train_split) = "train";
  /// image_folder: largest width x height accepted, read from the header before decoding
  /// (PIL's decompression-bomb limit, 89478485).
  TORCH_ARG(int64_t, max_pixels) = 89478485;
  /// image_folder: where the file listing is cached between runs: auto ($XDG_CACHE_HOME/pretext
  /// or ~/.cache/pretext) | off | a folder. Reused while no class folder changed.
  TORCH_ARG(std::string, index_cache) = "auto";
};

/// Opens split "train" or "test" of the configured dataset; unknown names list the known ones,
/// missing files name the path.
std::shared_ptr<Dataset> open_dataset(const DatasetOptions& options, const std::string& split);

}  // namespace pretext
