/* A UDP socket as ebb.net's Lua half sees it (udp.c: the socket, its
 * addresses, sending and its options; udp_recv.c: receiving). */
#ifndef EBB_UDP_H
#define EBB_UDP_H

#include "uvbox.h"

typedef union udp_addr {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} udp_addr;

/* A datagram received while no task waited. */
typedef struct udp_dgram {
  struct udp_dgram *next;
  udp_addr from;
  size_t len;
  char data[];
} udp_dgram;

typedef struct udp {
  uv_udp_t h;
  uvbox life;            /* its handle's and its box's (closed: life.closed) */
  ebb_waitlist readers;  /* tasks waiting for a datagram */
  udp_dgram *head, *tail;
  size_t queued;         /* datagrams in the queue */
  size_t max_queued;     /* past it, a new arrival is dropped */
  double dropped;        /* how many were */
  int recv_error;        /* an error receiving that no reader has been told */
  int family;            /* AF_INET or AF_INET6 once it has a socket; 0 before */
  unsigned receiving : 1;
} udp;

udp *udp_check(lua_State *L, int idx);
/* Pushes the address's ip and port; returns 2. */
int udp_push_addr(lua_State *L, const udp_addr *a);
/* Fills a from an IP literal and a port: its family, or 0 when ip is none. */
int udp_parse_addr(const char *ip, int port, udp_addr *a);

/* Receiving: the datagrams queued go with the socket as it closes, and
 * tasks waiting for one see the end. */
void udp_recv_closing(udp *u);
int udp_l_recv(lua_State *L);
int udp_l_recv_ended(lua_State *L);
int udp_l_queued(lua_State *L);

#endif
