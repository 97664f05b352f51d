# Builds lwIP's core (IPv4, IPv6, TCP, UDP; no sockets, netconn or netif drivers) as a static
# library from an unmodified 2.1.x release tree, configured by src/stack/port/lwipopts.h.
set(LWIP_SOURCE_DIR "${CMAKE_SOURCE_DIR}/third_party/lwip" CACHE PATH "lwIP 2.1.x source tree")
if(NOT EXISTS "${LWIP_SOURCE_DIR}/src/core/tcp.c")
  message(FATAL_ERROR "lwIP source not found at ${LWIP_SOURCE_DIR}. Run tools/setup.sh, or "
                      "pass -DLWIP_SOURCE_DIR=<path to an lwIP 2.1.x tree>.")
endif()

# Listed by folder rather than through lwIP's Filelists.cmake, which also generates files inside
# the source tree and defines targets we do not use.
file(GLOB LWIP_CORE_SOURCES "${LWIP_SOURCE_DIR}/src/core/*.c" "${LWIP_SOURCE_DIR}/src/core/ipv4/*.c"
     "${LWIP_SOURCE_DIR}/src/core/ipv6/*.c")
# An object library: its objects go into t2s_stack, whose hooks they call back into.
add_library(lwip_core OBJECT ${LWIP_CORE_SOURCES})
target_include_directories(lwip_core SYSTEM PUBLIC
  "${LWIP_SOURCE_DIR}/src/include"
  "${CMAKE_SOURCE_DIR}/src/stack/port")
# lwIP's own code is not ours to lint; keep its build quiet and position-independent of our flags.
target_compile_options(lwip_core PRIVATE -w)
