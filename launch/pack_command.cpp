// `pretext pack`: write a dataset as HDF5 shards plus a manifest (data/hdf5_shards.h), so a
// cluster job reads a few large files instead of millions of small ones.
#include <filesystem>
#include <iostream>

#include "data/hdf5_shards.h"
#include "launch/commands.h"
#include "launch/components.h"
#include "launch/config.h"

namespace pretext {
namespace fs = std::filesystem;

int run_pack_command(const CommandLine& line) {
  RunConfig config;
  ConfigSources sources = dataset_argument_sources(line.value("--input"));
  sources.overrides.insert(sources.overrides.end(), line.overrides.begin(), line.overrides.end());
  apply_config(config, sources);

  PackOptions options;
  const std::string shard_size = line.value("--shard-size", "10000");
  try {
    options.shard_size = std::stoll(shard_size);
  } catch (const std::exception&) {
    options.shard_size = 0;
  }
  TORCH_CHECK_VALUE(options.shard_size > 0, "--shard-size must be a positive integer, got '",
                    shard_size, "'");
  // Image folders keep their encoded files; record formats (CIFAR, STL-10, IDX) have none.
  options.raw = config.dataset.name() != "image_folder" || line.has("--raw");
  options.decode.max_pixels = config.dataset.max_pixels();
  TORCH_CHECK_VALUE(config.dataset.name() != "hdf5",
                    "--input is already packed (data.dataset = ", "hdf5)");

  const std::string split = line.value("--split", "all");
  TORCH_CHECK_VALUE(split == "train" || split == "test" || split == "all",
                    "--split must be train, test or all, got '", split, "'");
  std::vector<std::string> splits =
      split == "all" ? std::vector<std::string>{"train", "test"} : std::vector<std::string>{split};
  // Open every split first: a bad input fails before any shard is written.
  std::vector<std::pair<std::string, std::shared_ptr<Dataset>>> datasets;
  for (const std::string& name : splits) {
    try {
      datasets.emplace_back(name, open_dataset(config.dataset, name));
    } catch (const c10::Error& e) {
      if (split != "all" || name != "test") throw;
      std::cout << "pretext pack: no test split, packing train only (" << e.what_without_backtrace()
                << ")\n";
    }
  }
  for (const auto& [name, dataset] : datasets) {
    const PackResult result = pack_dataset(*dataset, line.out(), name, options);
    std::cout << "pretext pack: " << dataset->describe() << " -> " << result.shards
              << " shards, manifest " << result.manifest << "\n";
  }
  std::cout << "pretext pack: train with --data.dataset=hdf5 --data.root=" << line.out() << "\n";
  return 0;
}

}  // namespace pretext
