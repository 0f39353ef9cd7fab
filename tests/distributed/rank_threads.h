// Runs a function on several Gloo ranks inside the test process: one thread per rank, each
// with its own process group, meeting through a FileStore in a fresh file.
#pragma once

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "distributed/c10d_comm.h"

namespace pretext::testing {

/// A store file no earlier group in this process used.
inline std::string fresh_store_path() {
  static std::atomic<int> counter{0};
  const auto path =
      std::filesystem::temp_directory_path() /
      ("pretext_store_" + std::to_string(getpid()) + "_" + std::to_string(counter.fetch_add(1)));
  std::filesystem::remove(path);
  return path.string();
}

/// fn(comm, rank) on `world` ranks at once; rethrows the first rank's exception.
inline void run_ranks(int64_t world, const std::function<void(Comm&, int64_t)>& fn,
                      double timeout_s = 30.0) {
  const std::string store = fresh_store_path();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int64_t rank = 0; rank < world; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        auto comm = connect_file(store, rank, world, DistOptions().timeout_s(timeout_s),
                                 torch::Device(torch::kCPU));
        fn(*comm, rank);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::filesystem::remove(store);
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

/// Rows [rank * n / world, (rank + 1) * n / world) of x.
inline torch::Tensor rows_of(const torch::Tensor& x, int64_t rank, int64_t world) {
  const int64_t rows = x.size(0) / world;
  return x.narrow(0, rank * rows, rows);
}

}  // namespace pretext::testing
