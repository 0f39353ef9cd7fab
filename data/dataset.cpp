// open_dataset: maps a dataset name and split to its reader and files.
// Reference: torchvision.datasets.MNIST / FashionMNIST file names and split layout;
// torchvision.datasets.ImageFolder for image_folder; the CIFAR and STL-10 binary versions.
// Deviations: IDX files are read from `root` directly (no raw/ or processed/ subfolders, no
// download).
#include "data/dataset.h"

#include <fstream>
#include <vector>

#include "data/cifar.h"
#include "data/hdf5_shards.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/image_folder_index.h"
#include "data/stl10.h"

namespace pretext {

namespace {

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

/// root/<stem>.gz if present, else root/<stem>; throws naming both paths tried.
std::string find_idx_file(const std::string& root, const std::string& stem,
                          const std::string& dataset) {
  const std::string plain = root + "/" + stem;
  const std::string gz = plain + ".gz";
  if (file_exists(gz)) {
    return gz;
  }
  TORCH_CHECK(file_exists(plain), "open_dataset: ", dataset, " file not found: tried '", gz,
              "' and '", plain, "'; set the dataset root to the folder holding the IDX files");
  return plain;
}

}  // namespace

std::shared_ptr<Dataset> open_dataset(const DatasetOptions& options, const std::string& split) {
  const std::string& name = options.name();
  TORCH_CHECK_VALUE(name == "fashion_mnist" || name == "mnist" || name == "cifar10" ||
                        name == "cifar100" || name == "stl10" || name == "image_folder" ||
                        name == "hdf5",
                    "open_dataset: unknown dataset '", name,
                    "'; known: fashion_mnist, mnist, cifar10, cifar100, stl10, image_folder, hdf5");
  TORCH_CHECK_VALUE(split == "train" || split == "test", "open_dataset: unknown split '", split,
                    "' for ", name, "; known: train, test");
  TORCH_CHECK_VALUE(options.limit() >= 0, "open_dataset: limit must be >= 0, got ",
                    options.limit());
  if (name == "cifar10") {
    return open_cifar(options.root(), CifarLabels::kCifar10, split, options.limit());
  }
  if (name == "cifar100") {
    const std::string& kind = options.cifar100_labels();
    TORCH_CHECK_VALUE(kind == "fine" || kind == "coarse",
                      "data.cifar100_labels must be fine or coarse, got '", kind, "'");
    return open_cifar(options.root(),
                      kind == "fine" ? CifarLabels::kCifar100Fine : CifarLabels::kCifar100Coarse,
                      split, options.limit());
  }
  if (name == "stl10") {
    return open_stl10(options.root(), split, options.stl10_train_split(), options.limit());
  }
  if (name == "hdf5") {
    DecodeOptions decode;
    decode.max_pixels = options.max_pixels();
    return std::make_shared<Hdf5ShardDataset>(shard_manifest_path(options.root(), split),
                                              options.limit(), decode);
  }
  if (name == "image_folder") {
    TORCH_CHECK_VALUE(options.max_pixels() > 0, "data.max_pixels must be positive, got ",
                      options.max_pixels());
    DecodeOptions decode;
    decode.max_pixels = options.max_pixels();
    return std::make_shared<ImageFolderDataset>(options.root(), split, options.limit(), decode,
                                                resolve_index_cache(options.index_cache()));
  }
  const std::string prefix = split == "train" ? "train" : "t10k";
  const std::string images = find_idx_file(options.root(), prefix + "-images-idx3-ubyte", name);
  const std::string labels = find_idx_file(options.root(), prefix + "-labels-idx1-ubyte", name);
  return std::make_shared<IdxDataset>(images, labels, /*num_classes=*/10, options.limit(),
                                      name + " " + split);
}

}  // namespace pretext
