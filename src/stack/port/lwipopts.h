/* lwIP configuration for tun2socks: NO_SYS on one libuv loop, heap-allocated memory bounded by
 * TCP windows rather than fixed pools, IPv4 + IPv6, TCP and UDP, no sockets/netconn/ARP/ND.
 * Packets are taken by our input hooks (t2s_lwip_hooks.h) so flows to any address reach lwIP. */
#ifndef T2S_LWIPOPTS_H
#define T2S_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_TIMERS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0

/* Memory: plain malloc for both heap and pools, so nothing is preallocated and limits come from
 * TCP windows and send buffers, not from pool sizes. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEMP_NUM_TCP_PCB 65535
#define MEMP_NUM_TCP_PCB_LISTEN 4
#define MEMP_NUM_UDP_PCB 8
#define MEMP_NUM_TCP_SEG 65535
#define MEMP_NUM_REASSDATA 256
#define MEMP_NUM_FRAG_PBUF 256
#define MEMP_NUM_PBUF 1024
#define PBUF_POOL_SIZE 0

#define LWIP_IPV4 1
#define LWIP_IPV6 1
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define LWIP_DNS 0
/* lwIP calls its own lwip_htons etc.; its htons macros would rename the OS's declarations
   (Winsock's take u_long, not u32_t). */
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1
#define LWIP_SINGLE_NETIF 1
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_IPV6_SCOPES 0
#define LWIP_ND6_QUEUEING 0
#define LWIP_ND6_ALLOW_RA_UPDATES 0

#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 512
#define LWIP_IPV6_REASS 1
#define LWIP_IPV6_FRAG 1
#define IPV6_FRAG_COPYHEADER 1 /* required on 64-bit hosts */
#define IP_DEFAULT_TTL 64

/* TCP. The advertised MSS follows the device MTU (TCP_CALCULATE_EFF_SEND_MSS); TCP_MSS is only
 * the ceiling, so it is set for the largest MTU we accept. */
#define TCP_MSS 65495
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
#define TCP_SND_QUEUELEN 4096
#define TCP_SNDQUEUELOWAT 2048
#define TCP_SNDLOWAT (64 * 1024)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 0
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_TCP_KEEPALIVE 0
/* TIME-WAIT lasts 2 * TCP_MSL. On a virtual link with no stray old segments, two seconds keep
 * the pcb count (and tcp_input's list walks) low under high connection rates. */
#define TCP_MSL 1000UL
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 6
/* With a 64 KiB ceiling on TCP_MSS the stock sanity checks misjudge buffer ratios; the values
 * above were chosen for the runtime MSS, which the MTU caps. */
#define LWIP_DISABLE_TCP_SANITY_CHECKS 1
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0

#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_UDP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_UDP 1
#define CHECKSUM_CHECK_ICMP 1
#define CHECKSUM_CHECK_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1
/* Checksum checks per interface, switched per packet: TCP checksums the device vouched for
 * (checksum offload, see platform::ReadResult) are not checked. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
/* lwIP's portable checksum loops over 16-bit words; ours (net/checksum.cpp) is several times
 * faster and runs on every relayed byte. */
#ifdef __cplusplus
extern "C"
#endif
    unsigned short
    t2s_checksum(const void* data, int length);
#define LWIP_CHKSUM t2s_checksum
/* tcp_write copies every byte sent to the app: sum it in the same pass (stock lwIP copies,
 * then reads it all again to sum it). */
#ifdef __cplusplus
extern "C"
#endif
    unsigned short
    t2s_checksum_copy(void* destination, const void* source, unsigned short length);
#define LWIP_CHKSUM_COPY(dst, src, len) t2s_checksum_copy((dst), (src), (len))

#define LWIP_STATS 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0

#define LWIP_HOOK_FILENAME "t2s_lwip_hooks.h"
#define LWIP_HOOK_IP4_INPUT(pbuf, input_netif) t2s_ip4_input_hook((pbuf), (input_netif))
#define LWIP_HOOK_IP6_INPUT(pbuf, input_netif) t2s_ip6_input_hook((pbuf), (input_netif))
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  t2s_tcp_isn((local_ip), (local_port), (remote_ip), (remote_port))
#define LWIP_RAND() t2s_lwip_random()

#endif /* T2S_LWIPOPTS_H */
