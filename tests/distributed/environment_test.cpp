// The torchrun and SLURM environments, and SLURM host-list expansion.
#include "distributed/environment.h"

#include <map>

#include <gtest/gtest.h>

#include "tests/test_util.h"

namespace pretext {
namespace {

using pretext::testing::thrown_message;

EnvLookup fake_env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(DistributedEnvTest, NoVariablesIsOneProcess) {
  const auto env = read_distributed_env(fake_env({}));
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.source, "none");
}

TEST(DistributedEnvTest, Torchrun) {
  const auto env = read_distributed_env(fake_env({{"RANK", "5"},
                                                  {"LOCAL_RANK", "1"},
                                                  {"WORLD_SIZE", "8"},
                                                  {"LOCAL_WORLD_SIZE", "4"},
                                                  {"MASTER_ADDR", "10.0.0.2"},
                                                  {"MASTER_PORT", "29501"}}));
  EXPECT_EQ(env.source, "torchrun");
  EXPECT_EQ(env.rank, 5);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "10.0.0.2");
  EXPECT_EQ(env.master_port, 29501);
  EXPECT_FALSE(env.use_agent_store);
}

TEST(DistributedEnvTest, TorchrunAgentStore) {
  const auto env = read_distributed_env(fake_env({{"RANK", "0"},
                                                  {"WORLD_SIZE", "2"},
                                                  {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                                                  {"TORCHELASTIC_RESTART_COUNT", "3"}}));
  EXPECT_TRUE(env.use_agent_store);
  EXPECT_EQ(env.restart_count, 3);
  EXPECT_EQ(env.master_addr, "127.0.0.1");
  EXPECT_EQ(env.local_world_size, 2);
}

TEST(DistributedEnvTest, SlurmMasterIsTheFirstHost) {
  const auto env = read_distributed_env(fake_env({{"SLURM_PROCID", "6"},
                                                  {"SLURM_LOCALID", "2"},
                                                  {"SLURM_NTASKS", "8"},
                                                  {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                                  {"SLURM_NODELIST", "gpu[07-08]"}}));
  EXPECT_EQ(env.source, "slurm");
  EXPECT_EQ(env.rank, 6);
  EXPECT_EQ(env.local_rank, 2);
  EXPECT_EQ(env.world_size, 8);
  EXPECT_EQ(env.local_world_size, 4);
  EXPECT_EQ(env.master_addr, "gpu07");
  EXPECT_EQ(env.master_port, 29500);
}

TEST(DistributedEnvTest, TorchrunInsideSlurmWins) {
  const auto env = read_distributed_env(fake_env({{"RANK", "1"},
                                                  {"WORLD_SIZE", "2"},
                                                  {"SLURM_PROCID", "0"},
                                                  {"SLURM_NTASKS", "1"},
                                                  {"SLURM_NODELIST", "a"}}));
  EXPECT_EQ(env.source, "torchrun");
  EXPECT_EQ(env.rank, 1);
}

TEST(DistributedEnvTest, BadValuesNameTheVariable) {
  EXPECT_NE(thrown_message([] {
              read_distributed_env(fake_env({{"RANK", "one"}, {"WORLD_SIZE", "2"}}));
            }).find("RANK: expected an integer, got 'one'"),
            std::string::npos);
  EXPECT_NE(thrown_message([] {
              read_distributed_env(fake_env({{"RANK", "2"}, {"WORLD_SIZE", "2"}}));
            }).find("RANK=2 is not inside WORLD_SIZE=2"),
            std::string::npos);
  EXPECT_NE(thrown_message([] {
              read_distributed_env(fake_env({{"RANK", "0"}}));
            }).find("RANK and WORLD_SIZE must be set together"),
            std::string::npos);
  EXPECT_NE(thrown_message([] {
              read_distributed_env(
                  fake_env({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "70000"}}));
            }).find("MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(thrown_message([] {
              read_distributed_env(fake_env({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}));
            }).find("SLURM_NODELIST"),
            std::string::npos);
}

TEST(SlurmNodelistTest, Expansion) {
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_slurm_nodelist("node1"), V({"node1"}));
  EXPECT_EQ(expand_slurm_nodelist("a,b"), V({"a", "b"}));
  EXPECT_EQ(expand_slurm_nodelist("node[01-03,7]"), V({"node01", "node02", "node03", "node7"}));
  EXPECT_EQ(expand_slurm_nodelist("n[9-11]"), V({"n9", "n10", "n11"}));
  EXPECT_EQ(expand_slurm_nodelist("gpu[001-002],cpu7,rack-[3]"),
            V({"gpu001", "gpu002", "cpu7", "rack-3"}));
}

TEST(SlurmNodelistTest, MalformedListsNameTheOffset) {
  EXPECT_NE(thrown_message([] {
              expand_slurm_nodelist("node[01-03");
            }).find("'[' at offset 4 is never closed"),
            std::string::npos);
  EXPECT_NE(thrown_message([] { expand_slurm_nodelist("node[3-1]"); }).find("runs backwards"),
            std::string::npos);
  EXPECT_NE(thrown_message([] { expand_slurm_nodelist("node[a-b]"); }).find("bad range 'a-b'"),
            std::string::npos);
  EXPECT_NE(thrown_message([] { expand_slurm_nodelist("a,,b"); }).find("empty host name"),
            std::string::npos);
}

}  // namespace
}  // namespace pretext
