/*
 * PACKET_FANOUT for several rings on one interface: internal to the shim (ring.c opens the
 * sockets; this file knows the fanout socket options and the classic BPF program that spreads
 * frames over the group's members).
 */
#ifndef RINGVS_FANOUT_H
#define RINGVS_FANOUT_H

#include <stdint.h>

/* Join fd (bound, running) to fanout group `group` (0..65535), or create a new group with a
 * kernel-chosen unique id when group is RV_FANOUT_NEW. Returns the group id (0..65535; the kernel
 * hands out 0 too) or -errno. A new group gets the program of rv_fanout_set_mask(fd, 0xffffffff). */
int rv_fanout_join(int fd, int32_t group);
/* Replace the group's program (any member may): IPv4 frames go to member
 * hash(source address & mask) % members (ICMP errors: the quoted destination's, the client of the
 * connection they are about), everything else to member 0. Returns 0 or -errno. */
int rv_fanout_set_mask(int fd, uint32_t saddr_mask);
/* A filter that accepts nothing, attached before bind so that a socket joining an existing group
 * does not receive copies of the group's frames in the moment between bind and join; detached
 * (a ring socket) or replaced by its size filter (a large-frame socket, large_frames.h) once it
 * has joined. */
int rv_filter_drop_all(int fd);
int rv_filter_detach(int fd);

#endif
