/* Hook declarations lwIP includes through LWIP_HOOK_FILENAME. Implemented in stack/lwip_hooks.cpp:
 * the input hooks take every TCP segment, whatever its destination address, into tcp_input. */
#ifndef T2S_LWIP_HOOKS_H
#define T2S_LWIP_HOOKS_H

#include "lwip/arch.h"
#include "lwip/ip_addr.h"

#ifdef __cplusplus
extern "C" {
#endif

struct pbuf;
struct netif;

int t2s_ip4_input_hook(struct pbuf* p, struct netif* input_netif);
int t2s_ip6_input_hook(struct pbuf* p, struct netif* input_netif);
u32_t t2s_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip,
                  u16_t remote_port);
u32_t t2s_lwip_random(void);

#ifdef __cplusplus
}
#endif

#endif /* T2S_LWIP_HOOKS_H */
