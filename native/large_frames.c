/*
 * The large-frame path. A peer with TSO/GSO (a veth, tap or virtio NIC: every container and VM
 * host) or GRO on the receiving NIC hands AF_PACKET super-frames of up to 64 KiB; a jumbo MTU
 * gives 9 KiB frames. A TPACKET_V3 block must hold a whole frame, and blocks that large would
 * fill slowly and hold every small packet until the retire timer: the added latency of a
 * request/response client grows with the block. So the ring keeps its small blocks, and a second
 * socket on the same interface takes the longer frames (a classic BPF length filter), whole, with
 * PACKET_VNET_HDR telling how a super-frame is to be cut (gso_type, gso_size) and whether its
 * checksum is still to be done. Both sockets see every frame; the ring's copy of a long one (cut
 * to a block) is skipped by its length, so a frame is taken exactly once. The ring has no filter
 * of its own because running one on every frame cost more (bench/pps.sh) than the block a long
 * frame wastes there. With fanout workers, each
 * worker's large-frame socket joins a second group running the same program, so a connection's
 * large frames reach the worker that holds its small ones.
 */
#define _GNU_SOURCE
#include "large_frames.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <string.h>
#include <sys/socket.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int rv_large_filter(int fd, uint32_t threshold)
{
	/* The packet socket runs its filter on the whole skb from the MAC header on, so `len` is the
	 * frame's length as the ring would store it, and a GSO skb's full length. */
	struct sock_filter insns[4] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, threshold, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu), /* keep, whole */
		BPF_STMT(BPF_RET | BPF_K, 0),           /* not ours */
	};
	struct sock_fprog prog = { .len = 4, .filter = insns };
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0)
		return -errno;
	return 0;
}

int rv_large_setup(int fd)
{
	int one = 1, rcvbuf = (int)RV_LARGE_RCVBUF;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)) < 0)
		return -errno;
	/* FORCE needs CAP_NET_ADMIN, which a director has; without it take what rmem_max allows. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		return -errno;
	return 0;
}
