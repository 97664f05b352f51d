// Declarations of the wintun.dll functions tun2socks uses, written for this project from
// Wintun's documented API (https://www.wintun.net, version 0.14: adapters created/opened by
// name, session rings, a read-wait event). wintun.dll itself is not part of the repository:
// users download it from wintun.net (GPL-2.0 OR MIT, redistributable) and place it beside the
// executable; platform/windows/tun_device_windows.cpp loads it at run time.
// The official wintun.h is not copied here; these typedefs match its function signatures.
#pragma once

// Winsock 2 before windows.h (which would bring the old winsock.h), then the IP Helper
// headers that need both.
// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <ifdef.h>
// clang-format on

extern "C" {

typedef struct _WINTUN_ADAPTER* WINTUN_ADAPTER_HANDLE;
typedef struct _TUN_SESSION* WINTUN_SESSION_HANDLE;

// Ring capacity bounds (bytes; a power of two in between).
constexpr DWORD kWintunMinRingCapacity = 0x20000;
constexpr DWORD kWintunMaxRingCapacity = 0x4000000;
constexpr DWORD kWintunMaxPacketSize = 0xFFFF;

// NULL on failure (GetLastError).
typedef WINTUN_ADAPTER_HANDLE(WINAPI WintunCreateAdapterFunc)(LPCWSTR name, LPCWSTR tunnel_type,
                                                              const GUID* requested_guid);
typedef WINTUN_ADAPTER_HANDLE(WINAPI WintunOpenAdapterFunc)(LPCWSTR name);
// Removes the adapter if this handle created it.
typedef VOID(WINAPI WintunCloseAdapterFunc)(WINTUN_ADAPTER_HANDLE adapter);
typedef VOID(WINAPI WintunGetAdapterLuidFunc)(WINTUN_ADAPTER_HANDLE adapter, NET_LUID* luid);
// 0 when no driver is loaded.
typedef DWORD(WINAPI WintunGetRunningDriverVersionFunc)(VOID);
typedef WINTUN_SESSION_HANDLE(WINAPI WintunStartSessionFunc)(WINTUN_ADAPTER_HANDLE adapter,
                                                             DWORD capacity);
typedef VOID(WINAPI WintunEndSessionFunc)(WINTUN_SESSION_HANDLE session);
// Signalled when packets arrive after WintunReceivePacket reported ERROR_NO_MORE_ITEMS; owned
// by the session (never CloseHandle it).
typedef HANDLE(WINAPI WintunGetReadWaitEventFunc)(WINTUN_SESSION_HANDLE session);
// NULL with GetLastError() ERROR_NO_MORE_ITEMS (ring empty), ERROR_HANDLE_EOF (adapter going
// away) or ERROR_INVALID_DATA (ring corrupt). The packet stays in the ring until released.
typedef BYTE*(WINAPI WintunReceivePacketFunc)(WINTUN_SESSION_HANDLE session, DWORD* size);
typedef VOID(WINAPI WintunReleaseReceivePacketFunc)(WINTUN_SESSION_HANDLE session,
                                                    const BYTE* packet);
// NULL with GetLastError() ERROR_BUFFER_OVERFLOW (ring full) or ERROR_HANDLE_EOF.
typedef BYTE*(WINAPI WintunAllocateSendPacketFunc)(WINTUN_SESSION_HANDLE session, DWORD size);
typedef VOID(WINAPI WintunSendPacketFunc)(WINTUN_SESSION_HANDLE session, const BYTE* packet);

}  // extern "C"
