// A c10d key-value store over TCP whose server listens on the one address it is given (the
// job's MASTER_ADDR), never on every interface. c10d::TCPStore still binds the wildcard
// address in LibTorch 2.11: both its libuv backend (the default) and the legacy one listen on
// [::] with dual-stack (0.0.0.0 where IPv6 is off), TCPStoreOptions has no bind address, and
// the host argument is only where the store's own client connects; that exposes the
// rendezvous on every network the machine is on. (TCPStoreOptions::masterListenFd, a socket
// bound by the caller, is the one way around it inside c10d.)
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
