/*
 * afpacket.h — the AF_PACKET setup that cfwd, pktgen and txmethods share: parsing a MAC from the
 * command line, looking an interface up (index and MAC), opening the raw socket and binding it
 * send-only. Header-only (static inline) so each bench program still builds from its one .c file.
 *
 * These are bench tools: on failure the helpers print "PROG: ..." to stderr (perror style, PROG
 * being the caller's name) and return -1; the caller exits.
 */
#ifndef BENCH_AFPACKET_H
#define BENCH_AFPACKET_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* "aa:bb:cc:dd:ee:ff" (hex, one or two digits each) into mac. 0, or -1 if it is not a MAC. */
static inline int bench_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

/* The interface's index, or -1 after "PROG: no interface IF". */
static inline int bench_ifindex(const char *prog, const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "%s: no interface %s\n", prog, ifname);
		return -1;
	}
	return ifindex;
}

/* The interface's MAC through SIOCGIFHWADDR on fd (any socket of the interface's namespace).
 * 0, or -1 after "PROG: SIOCGIFHWADDR: <error>". */
static inline int bench_if_mac(const char *prog, int fd, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "%s: SIOCGIFHWADDR: %s\n", prog, strerror(errno));
		return -1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* socket(AF_PACKET, SOCK_RAW, 0), then IF's index (into *ifindex) and MAC, looked up through that
 * socket. Returns the fd, or -1 after printing "PROG: ..." (the fd, if any, closed). */
static inline int bench_packet_socket(const char *prog, const char *ifname, int *ifindex, uint8_t mac[6])
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		return -1;
	}
	*ifindex = bench_ifindex(prog, ifname);
	if (*ifindex < 0 || bench_if_mac(prog, fd, ifname, mac) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Binds fd to ifindex with protocol (host order): ETH_P_ALL to receive every frame of the
 * interface, 0 to only send there (no receive hook is registered). bind's result (0, or -1 with
 * errno set); prints nothing. */
static inline int bench_packet_bind(int fd, int ifindex, uint16_t protocol)
{
	struct sockaddr_ll sll;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(protocol);
	sll.sll_ifindex = ifindex;
	return bind(fd, (struct sockaddr *)&sll, sizeof(sll));
}

#endif
