/*
 * Fanout groups: one interface, several TPACKET_V3 rings, one per packet worker. The kernel picks
 * the ring per frame by running a classic BPF program over it (PACKET_FANOUT_CBPF) and taking the
 * result modulo the number of members. The program hashes the IPv4 source address under a mask,
 * so every packet of a connection, and every connection of one client (or one client network,
 * for a persistence netmask), reaches the same worker: flows, persistence templates and their
 * counters never need to be shared. Which mask to use is policy, decided in TypeScript.
 */
#define _GNU_SOURCE
#include "fanout.h"
#include "ring.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>

#ifndef PACKET_FANOUT_FLAG_UNIQUEID
#define PACKET_FANOUT_FLAG_UNIQUEID 0x2000
#endif

/* murmur3's 32-bit finaliser over the masked address: consecutive client addresses (a /24 of
 * clients, say) spread evenly even over 2 members, which a bare `saddr % n` would not for
 * masked or strided address plans.
 *
 * An ICMP error about a connection (destination unreachable, time exceeded) comes from whichever
 * router sent it, not from the client, so for those the address hashed is the quoted packet's
 * destination: the client, whose worker holds the connection (see icmp.c). A load past the end
 * of a short frame ends the program with 0 (member 0), which then counts it as malformed. */
#define RV_FANOUT_PROG_LEN 27

static void rv_fanout_program(uint32_t mask, struct sock_filter *p)
{
	struct sock_filter prog[RV_FANOUT_PROG_LEN] = {
		/* skb->protocol, host order */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_AD_OFF + SKF_AD_PROTOCOL)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 24),           /* -> 26 other */
		/* offsets relative to the network header, wherever the data starts */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)(SKF_NET_OFF + 9)),  /* protocol */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 8),                    /* not ICMP -> 12 */
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, (uint32_t)(SKF_NET_OFF + 6)),  /* MF, offset */
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x3fff, 6, 0),              /* fragment -> 12 */
		BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, (uint32_t)(SKF_NET_OFF + 0)), /* X = IHL * 4 */
		BPF_STMT(BPF_LD | BPF_B | BPF_IND, (uint32_t)(SKF_NET_OFF + 0)),  /* ICMP type */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 3, 1, 0),                    /* -> 10 quoted */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 11, 0, 2),                   /* not an error -> 12 */
		/* 10: quoted destination, behind the 8-byte ICMP header */
		BPF_STMT(BPF_LD | BPF_W | BPF_IND, (uint32_t)(SKF_NET_OFF + 8 + 16)),
		BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),                             /* -> 13 hash */
		/* 12: IPv4 source address */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)(SKF_NET_OFF + 12)),
		/* 13: hash */
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, mask),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0x85ebca6b),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 13),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 0xc2b2ae35),
		BPF_STMT(BPF_MISC | BPF_TAX, 0),
		BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),
		BPF_STMT(BPF_ALU | BPF_XOR | BPF_X, 0),
		BPF_STMT(BPF_RET | BPF_A, 0),
		/* 26: ARP and everything else: member 0 */
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	memcpy(p, prog, sizeof(prog));
}

int rv_fanout_set_mask(int fd, uint32_t saddr_mask)
{
	struct sock_filter insns[RV_FANOUT_PROG_LEN];
	rv_fanout_program(saddr_mask, insns);
	struct sock_fprog prog = { .len = RV_FANOUT_PROG_LEN, .filter = insns };
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

int rv_fanout_join(int fd, int32_t group)
{
	int create = group == RV_FANOUT_NEW;
	if (!create && (group < 0 || group > 0xffff))
		return -EINVAL;
	int flags = create ? PACKET_FANOUT_FLAG_UNIQUEID : 0;
	int arg = (int)((uint32_t)(create ? 0 : group) | (uint32_t)(PACKET_FANOUT_CBPF | flags) << 16);
	if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) < 0)
		return -errno;
	int got = 0;
	socklen_t len = sizeof(got);
	if (getsockopt(fd, SOL_PACKET, PACKET_FANOUT, &got, &len) < 0)
		return -errno;
	int id = got & 0xffff;
	if (create) {
		int err = rv_fanout_set_mask(fd, 0xffffffffu);
		if (err)
			return err;
	}
	return id;
}

int rv_filter_drop_all(int fd)
{
	struct sock_filter none[1] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = none };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

int rv_filter_detach(int fd)
{
	int unused = 0;
	if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused)) < 0)
		return -errno;
	return 0;
}
