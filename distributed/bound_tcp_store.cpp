// BoundTcpStore: a poll()-driven server thread holding the keys, and a blocking client.
// Wire format, both ways: u8 code, u32 count, then count x (u32 length, bytes).
#include "distributed/bound_tcp_store.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace pretext {
namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

enum Command : uint8_t { kSet, kGet, kAdd, kCheck, kDelete, kNumKeys, kCompareSet, kWait };

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string to_string(const Bytes& b) { return std::string(b.begin(), b.end()); }

void append_u32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t read_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}

Bytes encode(uint8_t code, const std::vector<Bytes>& parts) {
  Bytes out = {code};
  append_u32(out, static_cast<uint32_t>(parts.size()));
  for (const auto& part : parts) {
    append_u32(out, static_cast<uint32_t>(part.size()));
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

/// One complete message at the front of `buffer`: its size, or 0 while incomplete.
size_t decode(const Bytes& buffer, uint8_t* code, std::vector<Bytes>* parts) {
  if (buffer.size() < 5) return 0;
  const uint32_t count = read_u32(&buffer[1]);
  size_t at = 5;
  std::vector<Bytes> out;
  for (uint32_t i = 0; i < count; ++i) {
    if (buffer.size() < at + 4) return 0;
    const uint32_t n = read_u32(&buffer[at]);
    at += 4;
    if (buffer.size() < at + n) return 0;
    out.emplace_back(buffer.begin() + static_cast<std::ptrdiff_t>(at),
                     buffer.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  }
  *code = buffer[0];
  *parts = std::move(out);
  return at;
}

bool send_all(int fd, const Bytes& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

struct AddrInfo {
  addrinfo* list = nullptr;
  ~AddrInfo() {
    if (list != nullptr) freeaddrinfo(list);
  }
};

void resolve(const std::string& host, int port, bool passive, AddrInfo* out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &out->list);
  TORCH_CHECK(rc == 0 && out->list != nullptr, "dist store: cannot resolve '", host,
              "': ", gai_strerror(rc));
}

/// The server: keys in a map, clients blocked in get/wait parked until their keys exist.
class StoreServer {
 public:
  StoreServer(const std::string& host, int port) {
    AddrInfo addr;
    resolve(host, port, /*passive=*/true, &addr);
    listen_fd_ = ::socket(addr.list->ai_family, SOCK_STREAM, 0);
    TORCH_CHECK(listen_fd_ >= 0, "dist store: socket failed: ", std::strerror(errno));
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(listen_fd_, addr.list->ai_addr, addr.list->ai_addrlen) != 0 ||
        ::listen(listen_fd_, 1024) != 0) {
      const std::string why = std::strerror(errno);
      ::close(listen_fd_);
      TORCH_CHECK(false, "dist store: cannot listen on ", host, ":", port, ": ", why,
                  " (is another job using MASTER_PORT ", port, "?)");
    }
    TORCH_CHECK(::pipe(wake_) == 0, "dist store: pipe failed");
    thread_ = std::thread([this] { serve(); });
  }

  ~StoreServer() {
    const char byte = 0;
    (void)!::write(wake_[1], &byte, 1);
    thread_.join();
    for (auto& [fd, buffer] : clients_) ::close(fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

 private:
  struct Waiter {
    int fd;
    uint8_t command;  // kGet or kWait
    std::vector<std::string> keys;
  };

  void serve() {
    while (true) {
      std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
      for (const auto& [fd, buffer] : clients_) fds.push_back({fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds[0].revents != 0) return;
      if (fds[1].revents & POLLIN) {
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd >= 0) {
          const int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          clients_[fd] = Bytes();
        }
      }
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        read_client(fds[i].fd);
      }
    }
  }

  void drop(int fd) {
    ::close(fd);
    clients_.erase(fd);
    std::vector<Waiter> kept;
    for (auto& w : waiters_) {
      if (w.fd != fd) kept.push_back(std::move(w));
    }
    waiters_ = std::move(kept);
  }

  void read_client(int fd) {
    uint8_t chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) return;
      drop(fd);
      return;
    }
    Bytes& buffer = clients_[fd];
    buffer.insert(buffer.end(), chunk, chunk + n);
    uint8_t code = 0;
    std::vector<Bytes> parts;
    size_t used;
    while ((used = decode(clients_[fd], &code, &parts)) > 0) {
      Bytes& b = clients_[fd];
      b.erase(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(used));
      if (!handle(fd, code, parts)) {
        drop(fd);
        return;
      }
    }
  }

  bool has_all(const std::vector<std::string>& keys) const {
    for (const auto& k : keys) {
      if (data_.count(k) == 0) return false;
    }
    return true;
  }

  bool reply(int fd, const std::vector<Bytes>& parts) { return send_all(fd, encode(0, parts)); }

  bool answer_waiter(const Waiter& w) {
    if (w.command == kGet) return reply(w.fd, {data_.at(w.keys[0])});
    return reply(w.fd, {});
  }

  void wake_waiters() {
    std::vector<Waiter> still;
    std::vector<int> broken;
    for (auto& w : waiters_) {
      if (!has_all(w.keys)) {
        still.push_back(std::move(w));
      } else if (!answer_waiter(w)) {
        broken.push_back(w.fd);
      }
    }
    waiters_ = std::move(still);
    for (int fd : broken) {
      if (clients_.count(fd) != 0) drop(fd);
    }
  }

  bool handle(int fd, uint8_t code, const std::vector<Bytes>& parts) {
    const auto key = [&](size_t i) { return to_string(parts.at(i)); };
    try {
      switch (code) {
        case kSet:
          data_[key(0)] = parts.at(1);
          wake_waiters();
          return reply(fd, {});
        case kGet:
        case kWait: {
          Waiter w{fd, code, {}};
          for (size_t i = 0; i < parts.size(); ++i) w.keys.push_back(key(i));
          if (has_all(w.keys)) return answer_waiter(w);
          waiters_.push_back(std::move(w));
          return true;
        }
        case kAdd: {
          int64_t value = std::stoll(key(1));
          const auto it = data_.find(key(0));
          if (it != data_.end()) value += std::stoll(to_string(it->second));
          data_[key(0)] = to_bytes(std::to_string(value));
          wake_waiters();
          return reply(fd, {to_bytes(std::to_string(value))});
        }
        case kCheck: {
          std::vector<std::string> keys;
          for (size_t i = 0; i < parts.size(); ++i) keys.push_back(key(i));
          return reply(fd, {to_bytes(has_all(keys) ? "1" : "0")});
        }
        case kDelete:
          return reply(fd, {to_bytes(data_.erase(key(0)) > 0 ? "1" : "0")});
        case kNumKeys:
          return reply(fd, {to_bytes(std::to_string(data_.size()))});
        case kCompareSet: {
          // As TCPStore: set when the key holds `expected` (or is missing and expected is
          // empty); answer with the value the key holds afterwards.
          const auto it = data_.find(key(0));
          if ((it == data_.end() && parts.at(1).empty()) ||
              (it != data_.end() && it->second == parts.at(1))) {
            data_[key(0)] = parts.at(2);
            wake_waiters();
            return reply(fd, {parts.at(2)});
          }
          return reply(fd, {it == data_.end() ? parts.at(1) : it->second});
        }
        default:
          return false;
      }
    } catch (const std::exception&) {
      return false;  // malformed request: drop the client
    }
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::map<int, Bytes> clients_;
  std::map<std::string, Bytes> data_;
  std::vector<Waiter> waiters_;
};

class BoundTcpStore final : public c10d::Store {
 public:
  BoundTcpStore(const std::string& host, int port, bool is_server,
                std::chrono::milliseconds timeout)
      : c10d::Store(timeout), host_(host), port_(port) {
    if (is_server) server_ = std::make_unique<StoreServer>(host, port);
    connect_with_retry();
  }

  ~BoundTcpStore() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // c10d asks stores for a thread-safe copy: another client of the same server.
  c10::intrusive_ptr<c10d::Store> clone() override {
    return c10::make_intrusive<BoundTcpStore>(host_, port_, /*is_server=*/false, timeout_);
  }

  void set(const std::string& key, const Bytes& value) override {
    call(kSet, {to_bytes(key), value}, "set " + key);
  }
  Bytes compareSet(const std::string& key, const Bytes& current, const Bytes& desired) override {
    return call(kCompareSet, {to_bytes(key), current, desired}, "compareSet " + key).at(0);
  }
  Bytes get(const std::string& key) override {
    return call(kGet, {to_bytes(key)}, "get " + key).at(0);
  }
  int64_t add(const std::string& key, int64_t value) override {
    return std::stoll(to_string(
        call(kAdd, {to_bytes(key), to_bytes(std::to_string(value))}, "add " + key).at(0)));
  }
  bool deleteKey(const std::string& key) override {
    return to_string(call(kDelete, {to_bytes(key)}, "delete " + key).at(0)) == "1";
  }
  bool check(const std::vector<std::string>& keys) override {
    std::vector<Bytes> parts;
    for (const auto& k : keys) parts.push_back(to_bytes(k));
    return to_string(call(kCheck, parts, "check").at(0)) == "1";
  }
  int64_t getNumKeys() override {
    return std::stoll(to_string(call(kNumKeys, {}, "getNumKeys").at(0)));
  }
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys,
            const std::chrono::milliseconds& timeout) override {
    std::vector<Bytes> parts;
    for (const auto& k : keys) parts.push_back(to_bytes(k));
    call(kWait, parts, "wait", timeout);
  }

 private:
  void connect_with_retry() {
    const auto deadline = Clock::now() + timeout_;
    std::string last_error;
    while (true) {
      AddrInfo addr;
      resolve(host_, port_, /*passive=*/false, &addr);
      for (addrinfo* a = addr.list; a != nullptr; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, SOCK_STREAM, 0);
        if (fd < 0) continue;
        if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
          const int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          fd_ = fd;
          return;
        }
        last_error = std::strerror(errno);
        ::close(fd);
      }
      TORCH_CHECK(Clock::now() < deadline, "dist store: no server at ", host_, ":", port_,
                  " after ", timeout_.count() / 1000.0, " s (", last_error,
                  "); is rank 0 running, and MASTER_ADDR one of its addresses?");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  std::vector<Bytes> call(uint8_t code, const std::vector<Bytes>& parts, const std::string& what) {
    return call(code, parts, what, timeout_);
  }

  std::vector<Bytes> call(uint8_t code, const std::vector<Bytes>& parts, const std::string& what,
                          std::chrono::milliseconds timeout) {
    std::lock_guard<std::mutex> lock(mutex_);
    TORCH_CHECK(fd_ >= 0, "dist store: the connection to ", host_, ":", port_, " was lost earlier");
    TORCH_CHECK(send_all(fd_, encode(code, parts)), "dist store: ", what, " to ", host_, ":", port_,
                " failed: ", std::strerror(errno));
    const auto deadline = Clock::now() + (timeout.count() > 0 ? timeout : std::chrono::hours(24));
    Bytes buffer;
    while (true) {
      uint8_t status = 0;
      std::vector<Bytes> answer;
      if (decode(buffer, &status, &answer) > 0) return answer;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd_, POLLIN, 0};
      const int ready = left > 0 ? ::poll(&p, 1, static_cast<int>(left)) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) {
        // The answer may still come: the stream is out of step, so the connection is done.
        ::close(fd_);
        fd_ = -1;
        TORCH_CHECK(false, "dist store: ", what, " timed out after ", timeout.count() / 1000.0,
                    " s at ", host_, ":", port_, " (a rank did not start or died)");
      }
      uint8_t chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd_);
        fd_ = -1;
        TORCH_CHECK(false, "dist store: ", what, ": the server at ", host_, ":", port_,
                    " closed the connection (rank 0 exited)");
      }
      buffer.insert(buffer.end(), chunk, chunk + n);
    }
  }

  std::string host_;
  int port_;
  std::unique_ptr<StoreServer> server_;
  int fd_ = -1;
  std::mutex mutex_;
};

}  // namespace

c10::intrusive_ptr<c10d::Store> make_bound_tcp_store(const std::string& host, int port,
                                                     bool is_server,
                                                     std::chrono::milliseconds timeout) {
  return c10::make_intrusive<BoundTcpStore>(host, port, is_server, timeout);
}

}  // namespace pretext
