// C10dComm on Gloo ranks (threads of this process): every collective against the same
// arithmetic done on the whole data in one process.
#include "distributed/c10d_comm.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/distributed/free_port.h"
#include "tests/distributed/rank_threads.h"
#include "tests/test_util.h"

namespace pretext {
namespace {

using pretext::testing::free_port;
using pretext::testing::rows_of;
using pretext::testing::run_ranks;
using pretext::testing::thrown_message;

class C10dCommTest : public pretext::testing::Seeded {};

TEST_F(C10dCommTest, AllReduceSumsMixedShapesAndDtypes) {
  const int64_t world = 3;
  std::vector<std::vector<torch::Tensor>> inputs;
  for (int64_t r = 0; r < world; ++r) {
    inputs.push_back({torch::randn({4, 3}), torch::randn({5}), torch::randn({2, 2}, torch::kDouble),
                      torch::randn({6}).view({2, 3}).t()});  // non-contiguous
  }
  std::vector<torch::Tensor> expected;
  for (size_t i = 0; i < inputs[0].size(); ++i) {
    auto sum = inputs[0][i].clone();
    for (int64_t r = 1; r < world; ++r) sum += inputs[r][i];
    expected.push_back(sum);
  }
  run_ranks(world, [&](Comm& comm, int64_t rank) {
    EXPECT_EQ(comm.rank(), rank);
    EXPECT_EQ(comm.world_size(), world);
    auto tensors = inputs[rank];
    comm.all_reduce_sum(tensors);
    for (size_t i = 0; i < tensors.size(); ++i) {
      EXPECT_TRUE(torch::allclose(tensors[i], expected[i], 1e-6, 1e-6)) << "tensor " << i;
    }
    // The caller's tensors are written in place.
    EXPECT_TRUE(torch::allclose(inputs[rank][3], expected[3], 1e-6, 1e-6));
  });
}

TEST_F(C10dCommTest, AsyncAllReduceFinishesOnWait) {
  const auto a = torch::randn({1000});
  const auto b = torch::randn({1000});
  run_ranks(2, [&](Comm& comm, int64_t rank) {
    std::vector<torch::Tensor> t = {(rank == 0 ? a : b).clone()};
    auto work = comm.all_reduce_sum_async(t);
    work->wait();
    EXPECT_TRUE(torch::allclose(t[0], a + b, 1e-6, 1e-6));
  });
}

TEST_F(C10dCommTest, BroadcastFromAnyRoot) {
  const auto source = torch::randn({3, 4});
  run_ranks(3, [&](Comm& comm, int64_t rank) {
    std::vector<torch::Tensor> t = {rank == 1 ? source.clone() : torch::zeros({3, 4}),
                                    torch::full({2}, static_cast<double>(rank))};
    comm.broadcast(t, 1);
    EXPECT_TRUE(torch::equal(t[0], source));
    EXPECT_TRUE(torch::equal(t[1], torch::full({2}, 1.0)));
  });
}

TEST_F(C10dCommTest, AllGatherConcatenatesInRankOrderWithUnevenRows) {
  // Rank r holds r + 1 rows (a last partial batch in feature extraction).
  const auto all = torch::randn({6, 2});
  const std::vector<int64_t> starts = {0, 1, 3};
  run_ranks(3, [&](Comm& comm, int64_t rank) {
    const auto mine = all.narrow(0, starts[rank], rank + 1);
    EXPECT_TRUE(torch::equal(comm.all_gather(mine), all));
    EXPECT_TRUE(torch::equal(comm.all_gather(rows_of(all, rank, 3)), all));
    comm.barrier();
  });
}

TEST_F(C10dCommTest, DeadPeerFailsTheCollectiveInsteadOfHanging) {
  const std::string message = thrown_message([] {
    run_ranks(
        2,
        [](Comm& comm, int64_t rank) {
          comm.barrier();
          if (rank == 1) return;  // leaves: its group is torn down, its sockets close
          std::vector<torch::Tensor> t = {torch::ones({4})};
          comm.all_reduce_sum(t);
        },
        /*timeout_s=*/20.0);
  });
  EXPECT_NE(message.find("dist: all_reduce failed on rank 0 of 2"), std::string::npos) << message;
}

/// Local addresses (hex, as /proc/net/tcp{,6} write them) of the sockets listening on `port`.
std::vector<std::string> listening_addresses(int port) {
  char port_hex[8];
  std::snprintf(port_hex, sizeof(port_hex), "%04X", port);
  std::vector<std::string> out;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      const auto colon = local.find(':');
      if (state == "0A" && local.substr(colon + 1) == port_hex)
        out.push_back(local.substr(0, colon));
    }
  }
  return out;
}

TEST_F(C10dCommTest, TcpRendezvousListensOnTheMasterAddressOnly) {
  const int port = free_port();
  std::vector<std::vector<std::string>> listening(2);
  std::vector<std::thread> ranks;
  std::vector<std::exception_ptr> errors(2);
  for (int64_t rank = 0; rank < 2; ++rank) {
    ranks.emplace_back([&, rank] {
      try {
        DistributedEnv env;
        env.rank = rank;
        env.local_rank = rank;
        env.world_size = 2;
        env.local_world_size = 2;
        env.master_addr = "127.0.0.1";
        env.master_port = port;
        env.source = "torchrun";
        auto comm = connect_tcp(env, DistOptions().timeout_s(20), torch::Device(torch::kCPU));
        std::vector<torch::Tensor> t = {torch::full({2}, static_cast<double>(rank + 1))};
        comm->all_reduce_sum(t);
        EXPECT_TRUE(torch::equal(t[0], torch::full({2}, 3.0)));
        if (rank == 0) listening[0] = listening_addresses(port);
        comm->barrier();
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& t : ranks) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  // 127.0.0.1 in /proc/net/tcp's byte order; never 00000000 (every interface).
  EXPECT_EQ(listening[0], std::vector<std::string>{"0100007F"});
}

TEST(TcpRendezvousTest, MissingRankZeroTimesOutNamingTheAddress) {
  DistributedEnv env;
  env.rank = 1;
  env.world_size = 2;
  env.local_rank = 1;
  env.local_world_size = 2;
  env.master_port = free_port();
  const std::string message = thrown_message(
      [&] { connect_tcp(env, DistOptions().timeout_s(1), torch::Device(torch::kCPU)); });
  EXPECT_NE(message.find("rank 1 of 2 could not rendezvous at 127.0.0.1:" +
                         std::to_string(env.master_port)),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("no server at"), std::string::npos) << message;
}

TEST(ResolveBackendTest, FollowsTheDeviceAndRejectsUnknownNames) {
  EXPECT_EQ(resolve_backend(DistOptions(), torch::Device(torch::kCPU)), "gloo");
  EXPECT_EQ(resolve_backend(DistOptions().backend("gloo"), torch::Device(torch::kCPU)), "gloo");
  EXPECT_NE(thrown_message([] {
              resolve_backend(DistOptions().backend("mpi"), torch::Device(torch::kCPU));
            }).find("dist.backend must be auto, gloo or nccl, got 'mpi'"),
            std::string::npos);
  EXPECT_NE(thrown_message([] {
              resolve_backend(DistOptions().backend("nccl"), torch::Device(torch::kCPU));
            }).find("dist.backend = nccl"),
            std::string::npos);
}

}  // namespace
}  // namespace pretext
