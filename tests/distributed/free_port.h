// A loopback TCP port nothing listens on, for rendezvous in tests that run side by side.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>

namespace pretext::testing {

/// True when nothing is bound to `port` on loopback right now.
inline bool port_is_free(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return free;
}

/// A port in 20000-29999, below Linux's ephemeral range (32768 and up), so no outgoing
/// connection is handed it between this call and the server's bind (the race of asking the
/// kernel for a free port and closing it). Tests running side by side start from different
/// places (by process id) and step through the range, so they do not pick the same port.
inline int free_port() {
  static int calls = 0;
  for (int attempt = 0; attempt < 10000; ++attempt) {
    const int port =
        20000 +
        static_cast<int>((static_cast<long>(getpid()) * 7919 + static_cast<long>(calls++) * 131) %
                         10000);
    if (port_is_free(port)) return port;
  }
  throw std::runtime_error("free_port: no free loopback port in 20000-29999");
}

}  // namespace pretext::testing
