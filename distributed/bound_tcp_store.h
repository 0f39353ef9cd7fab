// A c10d key-value store over TCP whose server listens on the one address it is given (the
// job's MASTER_ADDR), never on every interface: c10d::TCPStore of LibTorch 1.x binds the
// wildcard address, which exposes the rendezvous on every network the machine is on.
// Same semantics as TCPStore (blocking get/wait with the store timeout, add on decimal
// values, compareSet), enough for ProcessGroupGloo/NCCL rendezvous. Internal to
// distributed/: only c10d_comm.cpp includes it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <torch/csrc/distributed/c10d/Store.hpp>

namespace pretext {

/// Rank 0 passes is_server = true: it starts the server on host:port (the port must be
/// free), then every rank connects as a client, retrying until `timeout` passes.
c10::intrusive_ptr<c10d::Store> make_bound_tcp_store(const std::string& host, int port,
                                                     bool is_server,
                                                     std::chrono::milliseconds timeout);

}  // namespace pretext
