//go:build ignore

// SPDX-License-Identifier: (MIT OR GPL-2.0)
//
// Network egress allow-list for the processes of one cgroup.
//
// connect4/connect6 decide connect() (TCP, and UDP sockets that connect),
// sendmsg4/sendmsg6 decide sends from unconnected UDP sockets, and the
// cgroup_skb/egress program is the backstop: every IP packet a socket of
// the cgroup sends is checked again (raw sockets, anything that did not go
// through the hooks above). A denied connect or send fails with EPERM; a
// denied packet is dropped. Every denial is reported in the ring buffer
// "events".
//
// The allow-list is one LPM trie keyed by IPv6 prefix (IPv4 is stored as
// IPv4-mapped IPv6, ::ffff:a.b.c.d), held in slot 0 of the array of maps
// "allow". User space replaces the whole trie with one map update, so a
// decision sees either the old or the new list, never a mix. Each entry
// carries the port ranges and protocols allowed for addresses under its
// prefix, merged by user space with those of every shorter prefix that
// contains it, so that the longest match alone decides.
//
// Nothing is allowed unless listed: loopback included.

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define MAX_RANGES 16
#define PROTO_TCP 1
#define PROTO_UDP 2

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPV6_FRAGMENT 44

enum hook {
	HOOK_CONNECT4 = 1,
	HOOK_CONNECT6 = 2,
	HOOK_SENDMSG4 = 3,
	HOOK_SENDMSG6 = 4,
	HOOK_SKB = 5,
};

struct port_range {
	__u16 first;
	__u16 last;
	__u8 protos; // PROTO_TCP | PROTO_UDP
	__u8 _pad[3];
};

struct allow_entry {
	__u32 n; // ranges in use
	__u32 _pad;
	struct port_range ranges[MAX_RANGES];
};

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct event {
	__u64 time_ns;        // bpf_ktime_get_ns (CLOCK_MONOTONIC)
	__u64 cgroup_id;      // the cgroup the programs are attached to
	__u64 task_cgroup_id; // the cgroup of the process (or socket) itself
	__u32 pid;            // thread group id; 0 for packets (skb)
	__u32 tid;
	__u16 port;           // destination port, host order
	__u8 protocol;        // IPPROTO_*
	__u8 family;          // AF_INET or AF_INET6
	__u8 hook;            // enum hook
	__u8 _pad[3];
	__u8 addr[16];        // destination; IPv4 as IPv4-mapped IPv6
	char comm[16];
};

struct allow_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct lpm_key));
	__uint(value_size, sizeof(struct allow_entry));
};


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct allow_trie);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

// Events lost because the ring buffer was full.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

// Anchors that put the types user space reads and writes into BTF.
struct event *const anchor_event __attribute__((unused)) = 0;
struct lpm_key *const anchor_key __attribute__((unused)) = 0;
struct allow_entry *const anchor_entry __attribute__((unused)) = 0;

// Set by user space before loading: the id of the attached cgroup.
volatile const __u64 cgroup_id = 0;

static __always_inline __u8 proto_bit(__u8 ipproto)
{
	if (ipproto == IPPROTO_TCP)
		return PROTO_TCP;
	if (ipproto == IPPROTO_UDP)
		return PROTO_UDP;
	return 0;
}

// allowed looks addr up in the active trie. port < 0 means "any port"
// (a non-first fragment, which carries no ports: its first fragment was
// checked, and without it the datagram cannot be reassembled).
static __always_inline int allowed(struct lpm_key *key, int port, __u8 ipproto)
{
	__u8 bit = proto_bit(ipproto);
	if (!bit)
		return 0;
	__u32 zero = 0;
	void *trie = bpf_map_lookup_elem(&allow, &zero);
	if (!trie)
		return 0;
	key->prefixlen = 128;
	struct allow_entry *a = bpf_map_lookup_elem(trie, key);
	if (!a)
		return 0;
	__u32 n = a->n;
	for (int i = 0; i < MAX_RANGES; i++) {
		if (i >= n)
			break;
		struct port_range *r = &a->ranges[i];
		if (!(r->protos & bit))
			continue;
		if (port < 0 || (port >= r->first && port <= r->last))
			return 1;
	}
	return 0;
}

static __always_inline void key_v4(struct lpm_key *key, __u32 addr_be)
{
	__builtin_memset(key->addr, 0, 10);
	key->addr[10] = 0xff;
	key->addr[11] = 0xff;
	__builtin_memcpy(&key->addr[12], &addr_be, 4);
}

static __always_inline int is_v4_mapped(const struct lpm_key *key)
{
	for (int i = 0; i < 10; i++)
		if (key->addr[i])
			return 0;
	return key->addr[10] == 0xff && key->addr[11] == 0xff;
}

static __always_inline void report(__u8 hook, __u8 family, __u8 ipproto, __u16 port,
				   const struct lpm_key *key, __u64 task_cg, int with_task)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&lost, &zero);
		if (n)
			*n += 1;
		return;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	e->task_cgroup_id = task_cg;
	e->pid = 0;
	e->tid = 0;
	__builtin_memset(e->comm, 0, sizeof(e->comm));
	if (with_task) {
		__u64 pt = bpf_get_current_pid_tgid();
		e->pid = pt >> 32;
		e->tid = (__u32)pt;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	e->port = port;
	e->protocol = ipproto;
	e->family = family;
	e->hook = hook;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	__builtin_memcpy(e->addr, key->addr, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int sock_addr4(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct lpm_key key = {};
	key_v4(&key, ctx->user_ip4);
	__u16 port = bpf_ntohs(ctx->user_port);
	__u8 ipproto = ctx->protocol;
	if (allowed(&key, port, ipproto))
		return 1;
	report(hook, AF_INET, ipproto, port, &key, bpf_get_current_cgroup_id(), 1);
	return 0;
}

static __always_inline int sock_addr6(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct lpm_key key = {};
	__u32 w;
	w = ctx->user_ip6[0];
	__builtin_memcpy(&key.addr[0], &w, 4);
	w = ctx->user_ip6[1];
	__builtin_memcpy(&key.addr[4], &w, 4);
	w = ctx->user_ip6[2];
	__builtin_memcpy(&key.addr[8], &w, 4);
	w = ctx->user_ip6[3];
	__builtin_memcpy(&key.addr[12], &w, 4);
	__u16 port = bpf_ntohs(ctx->user_port);
	__u8 ipproto = ctx->protocol;
	// An IPv4-mapped destination of an IPv6 socket is IPv4 traffic, and
	// the IPv4 hooks never see it: it is decided here, by the same key.
	if (allowed(&key, port, ipproto))
		return 1;
	report(hook, is_v4_mapped(&key) ? AF_INET : AF_INET6, ipproto, port, &key,
	       bpf_get_current_cgroup_id(), 1);
	return 0;
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr4(ctx, HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr6(ctx, HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr4(ctx, HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr6(ctx, HOOK_SENDMSG6);
}

// egress_skb checks every IP packet a socket of the cgroup sends. Packets
// it cannot parse are dropped: IPv6 extension headers other than a
// fragment header, truncated headers.
SEC("cgroup_skb/egress")
int egress_skb(struct __sk_buff *skb)
{
	struct lpm_key key = {};
	__u8 ipproto = 0;
	__u8 family;
	int port = -1;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		__u8 h[20];
		if (bpf_skb_load_bytes(skb, 0, h, sizeof(h)) < 0)
			goto drop_unparsed;
		family = AF_INET;
		ipproto = h[9];
		__u32 daddr;
		__builtin_memcpy(&daddr, &h[16], 4);
		key_v4(&key, daddr);
		__u16 frag = ((__u16)(h[6] & 0x1f) << 8) | h[7];
		if (frag == 0) {
			__u32 off = (h[0] & 0x0f) * 4;
			__u8 p[4];
			if (proto_bit(ipproto)) {
				if (bpf_skb_load_bytes(skb, off, p, sizeof(p)) < 0)
					goto drop;
				port = ((__u16)p[2] << 8) | p[3];
			}
		}
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		__u8 h[40];
		if (bpf_skb_load_bytes(skb, 0, h, sizeof(h)) < 0)
			goto drop_unparsed;
		family = AF_INET6;
		ipproto = h[6];
		__builtin_memcpy(key.addr, &h[24], 16);
		__u32 off = 40;
		if (ipproto == IPV6_FRAGMENT) {
			__u8 f[8];
			if (bpf_skb_load_bytes(skb, 40, f, sizeof(f)) < 0)
				goto drop;
			ipproto = f[0];
			off = 48;
			if ((((__u16)f[2] << 8) | f[3]) & 0xfff8)
				off = 0; // not the first fragment: no ports
		}
		if (off && proto_bit(ipproto)) {
			__u8 p[4];
			if (bpf_skb_load_bytes(skb, off, p, sizeof(p)) < 0)
				goto drop;
			port = ((__u16)p[2] << 8) | p[3];
		}
	} else {
		return 0;
	}
	if (allowed(&key, port, ipproto))
		return 1;
drop:
	report(HOOK_SKB, family, ipproto, port < 0 ? 0 : port, &key, bpf_skb_cgroup_id(skb), 0);
	return 0;
drop_unparsed:
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
