// Helpers shared by the Windows platform files: Win32 error text, UTF-8 <-> UTF-16 for the
// wide-character APIs, and conversions between our addresses and Winsock's.
#pragma once

// Winsock 2 before windows.h (which would bring the old winsock.h), then the IP Helper
// headers that need both.
// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <ws2ipdef.h>
// clang-format on

#include <string>

#include "platform/tun_device.h"

namespace t2s::platform::windows {

// "The system cannot find the file specified. (2)"
std::string error_text(DWORD code);
std::wstring to_wide(const std::string& utf8);
std::string to_utf8(const std::wstring& wide);

SOCKADDR_INET to_sockaddr(const InterfaceAddress& address);
InterfaceAddress from_sockaddr(const SOCKADDR_INET& address);

}  // namespace t2s::platform::windows
