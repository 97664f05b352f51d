// Win32 error text, UTF-8/UTF-16 conversion and address conversion for platform/windows/.
#include "windows_error.h"

#include <cstring>

namespace t2s::platform::windows {

std::string error_text(DWORD code) {
  wchar_t* buffer = nullptr;
  DWORD length = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::wstring text(buffer != nullptr ? buffer : L"", length);
  LocalFree(buffer);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L' ' ||
                           text.back() == L'.')) {
    text.pop_back();
  }
  return (text.empty() ? "error" : to_utf8(text)) + " (" + std::to_string(code) + ")";
}

std::wstring to_wide(const std::string& utf8) {
  if (utf8.empty()) return {};
  int size =
      MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring wide(static_cast<size_t>(size), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), wide.data(), size);
  return wide;
}

std::string to_utf8(const std::wstring& wide) {
  if (wide.empty()) return {};
  int size = WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr, 0,
                                 nullptr, nullptr);
  std::string utf8(static_cast<size_t>(size), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), utf8.data(), size,
                      nullptr, nullptr);
  return utf8;
}

SOCKADDR_INET to_sockaddr(const InterfaceAddress& address) {
  SOCKADDR_INET out{};
  if (address.is_v6) {
    out.Ipv6.sin6_family = AF_INET6;
    std::memcpy(&out.Ipv6.sin6_addr, address.bytes.data(), 16);
  } else {
    out.Ipv4.sin_family = AF_INET;
    std::memcpy(&out.Ipv4.sin_addr, address.bytes.data(), 4);
  }
  return out;
}

InterfaceAddress from_sockaddr(const SOCKADDR_INET& address) {
  InterfaceAddress out;
  out.is_v6 = address.si_family == AF_INET6;
  if (out.is_v6) {
    std::memcpy(out.bytes.data(), &address.Ipv6.sin6_addr, 16);
    out.prefix_length = 128;
  } else {
    std::memcpy(out.bytes.data(), &address.Ipv4.sin_addr, 4);
    out.prefix_length = 32;
  }
  return out;
}

}  // namespace t2s::platform::windows
