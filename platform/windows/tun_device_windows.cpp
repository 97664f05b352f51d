// Windows TUN device on Wintun: wintun.dll is loaded at run time from the executable's folder
// or System32 only (never the current directory or PATH, which others may write to); the
// adapter is opened by --device name, or created (and removed again when we close it). Packets
// move through a session's shared rings; the session's read-wait event wakes the libuv loop
// through a uv_async_t that a thread-pool wait (RegisterWaitForSingleObject) sends. Address and
// MTU are set with the IP Helper API.
// Winsock 2 before windows.h (which would bring the old winsock.h), then the IP Helper
// headers that need both.
// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <ws2ipdef.h>
#include <iphlpapi.h>
#include <netioapi.h>
// clang-format on

#include <cstring>

#include "platform/tun_device.h"
#include "windows_error.h"
#include "wintun_api.h"

namespace t2s::platform {
namespace {

using windows::error_text;

// Ring size: room for about 60 full 64 KiB packets, or thousands of small ones, while the loop
// is busy elsewhere.
constexpr DWORD kRingCapacity = 4 * 1024 * 1024;
static_assert(kRingCapacity >= kWintunMinRingCapacity && kRingCapacity <= kWintunMaxRingCapacity);

// GetProcAddress's result as the function type it really has (memcpy: no cast between
// unrelated function pointer types, which compilers warn about).
template <typename Function>
Function* symbol(HMODULE module, const char* name) {
  FARPROC address = GetProcAddress(module, name);
  Function* function = nullptr;
  static_assert(sizeof function == sizeof address);
  std::memcpy(&function, &address, sizeof function);
  return function;
}

struct Wintun {
  HMODULE module = nullptr;
  WintunCreateAdapterFunc* create_adapter = nullptr;
  WintunOpenAdapterFunc* open_adapter = nullptr;
  WintunCloseAdapterFunc* close_adapter = nullptr;
  WintunGetAdapterLuidFunc* adapter_luid = nullptr;
  WintunStartSessionFunc* start_session = nullptr;
  WintunEndSessionFunc* end_session = nullptr;
  WintunGetReadWaitEventFunc* read_wait_event = nullptr;
  WintunReceivePacketFunc* receive = nullptr;
  WintunReleaseReceivePacketFunc* release_receive = nullptr;
  WintunAllocateSendPacketFunc* allocate_send = nullptr;
  WintunSendPacketFunc* send = nullptr;

  ~Wintun() {
    if (module != nullptr) FreeLibrary(module);
  }

  bool load(std::string& error) {
    module = LoadLibraryExW(L"wintun.dll", nullptr,
                            LOAD_LIBRARY_SEARCH_APPLICATION_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (module == nullptr) {
      error = "cannot load wintun.dll: " + error_text(GetLastError()) +
              " (download it from https://www.wintun.net and place it beside tun2socks.exe)";
      return false;
    }
    create_adapter = symbol<WintunCreateAdapterFunc>(module, "WintunCreateAdapter");
    open_adapter = symbol<WintunOpenAdapterFunc>(module, "WintunOpenAdapter");
    close_adapter = symbol<WintunCloseAdapterFunc>(module, "WintunCloseAdapter");
    adapter_luid = symbol<WintunGetAdapterLuidFunc>(module, "WintunGetAdapterLUID");
    start_session = symbol<WintunStartSessionFunc>(module, "WintunStartSession");
    end_session = symbol<WintunEndSessionFunc>(module, "WintunEndSession");
    read_wait_event = symbol<WintunGetReadWaitEventFunc>(module, "WintunGetReadWaitEvent");
    receive = symbol<WintunReceivePacketFunc>(module, "WintunReceivePacket");
    release_receive = symbol<WintunReleaseReceivePacketFunc>(module, "WintunReleaseReceivePacket");
    allocate_send = symbol<WintunAllocateSendPacketFunc>(module, "WintunAllocateSendPacket");
    send = symbol<WintunSendPacketFunc>(module, "WintunSendPacket");
    if (!create_adapter || !open_adapter || !close_adapter || !adapter_luid || !start_session ||
        !end_session || !read_wait_event || !receive || !release_receive || !allocate_send ||
        !send) {
      error = "wintun.dll lacks functions of Wintun 0.14 (use the version from wintun.net)";
      return false;
    }
    return true;
  }
};

class WintunDevice;

// The read-wait event as libuv wake-ups. Wintun signals its (auto-reset) event only after a
// receive found the ring empty, so a callback that stops before that is sent again at once.
class EventWatch final : public DeviceWatch {
 public:
  EventWatch(WintunDevice& device, TunDevice::ReadyCallback on_ready, void* context)
      : device_(device), on_ready_(on_ready), context_(context) {}
  ~EventWatch() override;
  int start(uv_loop_t* loop, HANDLE event, std::string& error);

 private:
  static void CALLBACK signalled(void* async, BOOLEAN) {
    uv_async_send(static_cast<uv_async_t*>(async));
  }
  void on_async();

  WintunDevice& device_;
  TunDevice::ReadyCallback on_ready_;
  void* context_;
  uv_async_t* async_ = nullptr;
  HANDLE wait_ = nullptr;
};

class WintunDevice final : public TunDevice {
 public:
  WintunDevice(std::unique_ptr<Wintun> wintun, WINTUN_ADAPTER_HANDLE adapter, std::string name,
               int mtu, bool created)
      : wintun_(std::move(wintun)),
        adapter_(adapter),
        name_(std::move(name)),
        mtu_(mtu),
        created_(created) {}
  ~WintunDevice() override {
    if (session_ != nullptr) wintun_->end_session(session_);
    wintun_->close_adapter(adapter_);  // removes the adapter if we created it
  }

  bool start_session(std::string& error) {
    session_ = wintun_->start_session(adapter_, kRingCapacity);
    if (session_ == nullptr) {
      error = "cannot start a Wintun session on '" + name_ + "': " + error_text(GetLastError()) +
              " (another program may have it open)";
      return false;
    }
    return true;
  }

  const std::string& name() const override { return name_; }
  int mtu() const override { return mtu_; }
  bool created_by_us() const override { return created_; }

  std::unique_ptr<DeviceWatch> watch(uv_loop_t* loop, ReadyCallback on_ready, void* context,
                                     std::string& error) override {
    auto watch = std::make_unique<EventWatch>(*this, on_ready, context);
    if (watch->start(loop, wintun_->read_wait_event(session_), error) != 0) return nullptr;
    return watch;
  }

  ReadResult read_packet(std::span<uint8_t> buffer) override {
    DWORD size = 0;
    BYTE* packet = wintun_->receive(session_, &size);
    if (packet == nullptr) {
      DWORD code = GetLastError();
      if (code == ERROR_NO_MORE_ITEMS) {
        drained_ = true;
        return {IoStatus::kWouldBlock, 0, 0};
      }
      return {IoStatus::kError, 0, uv_translate_sys_error(static_cast<int>(code))};
    }
    // Wintun's packets are at most 64 KiB; one larger than the buffer reads as empty, which
    // the stack counts as malformed.
    size_t length = size <= buffer.size() ? size : 0;
    std::memcpy(buffer.data(), packet, length);
    wintun_->release_receive(session_, packet);
    return {IoStatus::kOk, length, 0};
  }

  IoStatus write_packet(std::span<const std::span<const uint8_t>> parts) override {
    size_t total = 0;
    for (const auto& part : parts) total += part.size();
    if (total == 0 || total > kWintunMaxPacketSize) return IoStatus::kError;
    BYTE* packet = wintun_->allocate_send(session_, static_cast<DWORD>(total));
    if (packet == nullptr) {
      return GetLastError() == ERROR_BUFFER_OVERFLOW ? IoStatus::kWouldBlock : IoStatus::kError;
    }
    for (const auto& part : parts) {
      std::memcpy(packet, part.data(), part.size());
      packet += part.size();
    }
    wintun_->send(session_, packet - total);
    return IoStatus::kOk;
  }

  // Whether the last read found the ring empty (then the event will fire for the next packet).
  bool take_drained() {
    bool drained = drained_;
    drained_ = false;
    return drained;
  }

  NET_LUID luid() const {
    NET_LUID luid{};
    wintun_->adapter_luid(adapter_, &luid);
    return luid;
  }

 private:
  std::unique_ptr<Wintun> wintun_;
  WINTUN_ADAPTER_HANDLE adapter_;
  WINTUN_SESSION_HANDLE session_ = nullptr;
  std::string name_;
  int mtu_;
  bool created_;
  bool drained_ = false;
};

EventWatch::~EventWatch() {
  // INVALID_HANDLE_VALUE: wait until a running callback has finished, so it never touches the
  // async handle after it is closed.
  if (wait_ != nullptr) UnregisterWaitEx(wait_, INVALID_HANDLE_VALUE);
  if (async_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
  }
}

int EventWatch::start(uv_loop_t* loop, HANDLE event, std::string& error) {
  auto* async = new uv_async_t{};
  if (int rc = uv_async_init(
          loop, async,
          [](uv_async_t* handle) { static_cast<EventWatch*>(handle->data)->on_async(); });
      rc != 0) {
    delete async;  // never initialised: nothing for libuv to close
    error = std::string("cannot watch the Wintun adapter: ") + uv_strerror(rc);
    return rc;
  }
  async_ = async;
  async_->data = this;
  if (!RegisterWaitForSingleObject(&wait_, event, signalled, async_, INFINITE,
                                   WT_EXECUTEINWAITTHREAD)) {
    wait_ = nullptr;
    error = "cannot wait for the Wintun adapter's packets: " + error_text(GetLastError());
    return UV_EINVAL;
  }
  // Packets may have arrived before the wait existed: read once now.
  uv_async_send(async_);
  return 0;
}

void EventWatch::on_async() {
  device_.take_drained();
  on_ready_(context_, 0);
  if (!device_.take_drained() && async_ != nullptr) uv_async_send(async_);
}

bool set_address(NET_LUID luid, const InterfaceAddress& address, const std::string& name,
                 std::string& error) {
  MIB_UNICASTIPADDRESS_ROW row;
  InitializeUnicastIpAddressEntry(&row);
  row.InterfaceLuid = luid;
  row.Address = windows::to_sockaddr(address);
  row.OnLinkPrefixLength = static_cast<UINT8>(address.prefix_length);
  row.DadState = IpDadStatePreferred;
  DWORD rc = CreateUnicastIpAddressEntry(&row);
  if (rc != NO_ERROR && rc != ERROR_OBJECT_ALREADY_EXISTS) {
    error = std::string("cannot set ") + (address.is_v6 ? "IPv6" : "IPv4") + " address on '" +
            name + "': " + error_text(rc);
    return false;
  }
  return true;
}

bool set_mtu(NET_LUID luid, bool is_v6, int mtu, const std::string& name, std::string& error) {
  MIB_IPINTERFACE_ROW row;
  InitializeIpInterfaceEntry(&row);
  row.InterfaceLuid = luid;
  row.Family = is_v6 ? AF_INET6 : AF_INET;
  DWORD rc = GetIpInterfaceEntry(&row);
  if (rc == NO_ERROR) {
    row.NlMtu = static_cast<ULONG>(mtu);
    if (!is_v6) row.SitePrefixLength = 0;  // SetIpInterfaceEntry refuses anything else for IPv4
    rc = SetIpInterfaceEntry(&row);
  }
  if (rc != NO_ERROR) {
    error = "cannot set MTU " + std::to_string(mtu) + " (" + (is_v6 ? "IPv6" : "IPv4") + ") on '" +
            name + "': " + error_text(rc);
    return false;
  }
  return true;
}

}  // namespace

bool ipv6_enabled() {
  // Windows keeps its IPv6 stack on (it can only be turned off per adapter or by registry);
  // setting the address then fails with a clear error.
  return true;
}

std::unique_ptr<TunDevice> TunDevice::open(const TunOptions& options, std::string& error) {
  if (options.inherited_fd) {
    error = "--device fd://N is not supported on Windows";
    return nullptr;
  }
  auto wintun = std::make_unique<Wintun>();
  if (!wintun->load(error)) return nullptr;
  const std::wstring name = windows::to_wide(options.name);
  bool created = false;
  WINTUN_ADAPTER_HANDLE adapter = wintun->open_adapter(name.c_str());
  if (adapter == nullptr) {
    adapter = wintun->create_adapter(name.c_str(), L"tun2socks", nullptr);
    if (adapter == nullptr) {
      DWORD code = GetLastError();
      error = "cannot create Wintun adapter '" + options.name + "': " + error_text(code) +
              (code == ERROR_ACCESS_DENIED ? " (run as Administrator)" : "");
      return nullptr;
    }
    created = true;
  }
  auto device = std::make_unique<WintunDevice>(std::move(wintun), adapter, options.name,
                                               options.mtu, created);
  const NET_LUID luid = device->luid();
  for (const auto* address : {&options.ipv4, &options.ipv6}) {
    if (!*address) continue;
    if (!set_address(luid, **address, options.name, error)) return nullptr;
    if (!set_mtu(luid, (*address)->is_v6, options.mtu, options.name, error)) return nullptr;
  }
  if (!device->start_session(error)) return nullptr;
  return device;
}

}  // namespace t2s::platform
