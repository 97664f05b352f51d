// Windows --auto-route with the IP Helper API: the route plan (platform/route_plan.h) computed
// from GetBestRoute2's answers, executed with CreateIpForwardEntry2 and undone with
// DeleteIpForwardEntry2. Each route we added is recorded in %ProgramData%\tun2socks\routes.txt
// right after it is added (never before, so a route that existed already, e.g. a LAN's own, is
// never ours to remove), so --cleanup and the next start remove what a crashed run left. Also
// the proxy sockets' interface binding (IP_UNICAST_IF / IPV6_UNICAST_IF).
// Winsock 2 before windows.h (which would bring the old winsock.h), then the IP Helper
// headers that need both.
// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <ws2ipdef.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <netioapi.h>
// clang-format on

#include <cstdio>

#include "platform/route_plan.h"
#include "platform/routing.h"
#include "windows_error.h"

namespace t2s::platform {
namespace {

using windows::error_text;

std::wstring state_directory() {
  wchar_t buffer[MAX_PATH] = {};
  DWORD length = GetEnvironmentVariableW(L"ProgramData", buffer, MAX_PATH);
  std::wstring base = length > 0 && length < MAX_PATH ? buffer : L"C:\\ProgramData";
  return base + L"\\tun2socks";
}

std::wstring state_file() {
  return state_directory() + L"\\routes.txt";
}

std::string read_state() {
  std::string text;
  std::FILE* file = _wfopen(state_file().c_str(), L"rb");
  if (file == nullptr) return text;
  char buffer[4096];
  size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, file)) > 0) text.append(buffer, count);
  std::fclose(file);
  return text;
}

// Replaces the state file with `routes`; deletes it when there are none.
bool write_state(const std::vector<PlannedRoute>& routes, std::string& error) {
  if (routes.empty()) {
    DeleteFileW(state_file().c_str());
    return true;
  }
  CreateDirectoryW(state_directory().c_str(), nullptr);
  const std::wstring temporary = state_file() + L".new";
  std::FILE* file = _wfopen(temporary.c_str(), L"wb");
  const std::string text = format_route_state(routes);
  bool written = file != nullptr && std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (file != nullptr) written = std::fclose(file) == 0 && written;
  if (!written || !MoveFileExW(temporary.c_str(), state_file().c_str(),
                               MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    error = "cannot write the route record " + windows::to_utf8(state_file()) + ": " +
            error_text(GetLastError());
    return false;
  }
  return true;
}

MIB_IPFORWARD_ROW2 forward_row(const PlannedRoute& route) {
  MIB_IPFORWARD_ROW2 row;
  InitializeIpForwardEntry(&row);
  row.InterfaceLuid.Value = route.interface_luid;
  row.DestinationPrefix.Prefix = windows::to_sockaddr(route.destination);
  row.DestinationPrefix.PrefixLength = static_cast<UINT8>(route.destination.prefix_length);
  row.NextHop = windows::to_sockaddr(route.next_hop);
  row.Metric = 0;  // added to the interface's metric
  row.Protocol = RouteProtocolNetMgmt;
  return row;
}

// Deletes `routes` (last first); a route already gone counts as removed. Returns how many were
// removed, or -1 with `error` naming the first that could not be.
int delete_routes(const std::vector<PlannedRoute>& routes, std::string& error) {
  int removed = 0;
  for (auto it = routes.rbegin(); it != routes.rend(); ++it) {
    MIB_IPFORWARD_ROW2 row = forward_row(*it);
    DWORD rc = DeleteIpForwardEntry2(&row);
    if (rc == NO_ERROR) {
      ++removed;
    } else if (rc != ERROR_NOT_FOUND && rc != ERROR_FILE_NOT_FOUND) {
      error = "cannot remove route " + to_text(it->destination) + ": " + error_text(rc);
      return -1;
    }
  }
  return removed;
}

std::optional<CurrentRoute> best_route(const InterfaceAddress& destination) {
  SOCKADDR_INET address = windows::to_sockaddr(destination);
  MIB_IPFORWARD_ROW2 row{};
  SOCKADDR_INET source{};
  if (GetBestRoute2(nullptr, 0, nullptr, &address, 0, &row, &source) != NO_ERROR) {
    return std::nullopt;
  }
  CurrentRoute current;
  current.interface_luid = row.InterfaceLuid.Value;
  current.next_hop = windows::from_sockaddr(row.NextHop);
  return current;
}

class InterfaceRouting final : public PolicyRouting {
 public:
  ~InterfaceRouting() override {
    std::string ignored;
    remove(ignored);
  }

  bool add(const RoutePlan& plan, std::string& error) {
    notes_ = plan.notes;
    for (const PlannedRoute& route : plan.routes) {
      MIB_IPFORWARD_ROW2 row = forward_row(route);
      DWORD rc = CreateIpForwardEntry2(&row);
      if (rc == ERROR_OBJECT_ALREADY_EXISTS) continue;  // someone else's: not ours to remove
      if (rc != NO_ERROR) {
        error = "cannot add route " + to_text(route.destination) + ": " + error_text(rc) +
                (rc == ERROR_ACCESS_DENIED ? " (run as Administrator)" : "");
        return false;
      }
      added_.push_back(route);
      if (!write_state(added_, error)) return false;
    }
    return true;
  }

  bool remove(std::string& error) override {
    if (added_.empty()) return true;
    if (delete_routes(added_, error) < 0) return false;
    added_.clear();
    return write_state(added_, error);
  }

  std::vector<std::string> notes() const override { return notes_; }

 private:
  std::vector<PlannedRoute> added_;
  std::vector<std::string> notes_;
};

}  // namespace

std::unique_ptr<PolicyRouting> PolicyRouting::install(const RoutingOptions& options,
                                                      std::string& error) {
  NET_LUID adapter{};
  if (DWORD rc = ConvertInterfaceAliasToLuid(windows::to_wide(options.device).c_str(), &adapter);
      rc != NO_ERROR) {
    error = "cannot find adapter '" + options.device + "': " + error_text(rc);
    return nullptr;
  }
  RoutePlanInput input;
  input.adapter_luid = adapter.Value;
  input.ipv6 = options.ipv6 == RoutingOptions::Ipv6::kTunnel;
  for (const InterfaceAddress& destination : options.exclude) {
    input.kept_off.push_back({destination, best_route(destination)});
  }
  std::optional<RoutePlan> plan = plan_routes(input, error);
  if (!plan) return nullptr;
  auto routing = std::make_unique<InterfaceRouting>();
  if (!routing->add(*plan, error)) return nullptr;  // the destructor removes what was added
  return routing;
}

int PolicyRouting::remove_leftovers(uint32_t, uint32_t, std::string& error) {
  std::vector<PlannedRoute> leftovers = parse_route_state(read_state());
  int removed = delete_routes(leftovers, error);
  if (removed < 0) return -1;
  DeleteFileW(state_file().c_str());
  return removed;
}

std::string apply_socket_options(uv_os_sock_t socket, const OutboundSocketOptions& options) {
  if (options.fwmark) return "socket marks (--fwmark) are not supported on Windows";
  if (options.uplink_interface.empty()) return {};
  NET_LUID luid{};
  NET_IFINDEX index = 0;
  DWORD rc = ConvertInterfaceAliasToLuid(windows::to_wide(options.uplink_interface).c_str(), &luid);
  if (rc == NO_ERROR) rc = ConvertInterfaceLuidToIndex(&luid, &index);
  if (rc != NO_ERROR)
    return "cannot find interface '" + options.uplink_interface + "': " + error_text(rc);
  WSAPROTOCOL_INFOW info{};
  int length = sizeof info;
  if (getsockopt(socket, SOL_SOCKET, SO_PROTOCOL_INFOW, reinterpret_cast<char*>(&info), &length) !=
      0) {
    return "cannot inspect a proxy socket: " + error_text(static_cast<DWORD>(WSAGetLastError()));
  }
  // IP_UNICAST_IF takes the index in network byte order, IPV6_UNICAST_IF in host order.
  const bool is_v6 = info.iAddressFamily == AF_INET6;
  DWORD value = is_v6 ? index : htonl(index);
  if (setsockopt(socket, is_v6 ? IPPROTO_IPV6 : IPPROTO_IP, is_v6 ? IPV6_UNICAST_IF : IP_UNICAST_IF,
                 reinterpret_cast<const char*>(&value), sizeof value) != 0) {
    return "cannot bind a proxy socket to interface '" + options.uplink_interface +
           "': " + error_text(static_cast<DWORD>(WSAGetLastError()));
  }
  return {};
}

std::string check_socket_options(int family, const OutboundSocketOptions& options) {
  WSADATA data{};
  if (int rc = WSAStartup(MAKEWORD(2, 2), &data); rc != 0) {
    return "cannot start Winsock: " + error_text(static_cast<DWORD>(rc));
  }
  std::string error;
  SOCKET socket = ::socket(family, SOCK_STREAM, IPPROTO_TCP);
  if (socket == INVALID_SOCKET) {
    error = "cannot open a socket: " + error_text(static_cast<DWORD>(WSAGetLastError()));
  } else {
    error = apply_socket_options(socket, options);
    closesocket(socket);
  }
  WSACleanup();
  return error;
}

}  // namespace t2s::platform
