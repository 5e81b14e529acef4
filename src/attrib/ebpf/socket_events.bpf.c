/* telltale's socket-owner probe: tells userspace which process owns an IPv4 or IPv6 TCP or UDP
 * socket, at the moment the kernel knows it, so that a process that exits milliseconds after it
 * connected is still named. Read src/attrib/ebpf/mod.rs first: it says what each event means and
 * how userspace reads them.
 *
 * Two raw tracepoints, attached by name (no tracefs, no kprobes):
 * - inet_sock_set_state: a TCP socket going to SYN_SENT is being connected by the current task
 *   (process context). Its owner is kept in `pending`, keyed by the socket's address, because the
 *   local port is not chosen yet. At the socket's next transition (ESTABLISHED, or CLOSE when the
 *   connection was refused or timed out; usually in softirq, where the current task is whoever was
 *   interrupted) its addresses are complete: the event is sent with the owner kept earlier.
 * - sock_send_length: fires in process context after every send on a socket (send, sendto,
 *   sendmsg, sendmmsg, write), so an unconnected UDP socket is bound by then. The first send seen
 *   on a socket is sent as an event, unless its connect was; `sent` remembers the socket so that
 *   bulk traffic costs a map lookup and a few small reads per send.
 *
 * Every record lost to a full ring is counted in `counters`, which userspace reads.
 *
 * The kernel's types are declared here, only the fields read, with preserve_access_index: clang
 * records each access as a CO-RE relocation, and the loader rewrites the offsets against the
 * running kernel's BTF (/sys/kernel/btf/vmlinux). A generated vmlinux.h would need bpftool and a
 * BTF-enabled kernel on the build machine, and be 130,000 lines in the repository; these few
 * declarations build anywhere clang does.
 */

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* Stable kernel ABI values (include/uapi/linux/bpf.h, socket.h, in.h, net/tcp_states.h,
 * linux/sched.h), spelled out so that the build needs no kernel headers. */
#define BPF_MAP_TYPE_HASH_LRU 9
#define BPF_MAP_TYPE_ARRAY_ 2
#define BPF_MAP_TYPE_PERCPU_ARRAY_ 6
#define BPF_MAP_TYPE_RINGBUF_ 27
#define BPF_ANY_ 0
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_CLOSE 7
#define PF_KTHREAD 0x00200000

/* The context of a raw tracepoint program: the tracepoint's arguments, as 64-bit words. */
struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

/* --- The kernel's types: only the fields read (CO-RE relocates each access). --- */

struct in6_addr {
	__u8 s6_addr[16];
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct net {
	struct ns_common ns;
} __attribute__((preserve_access_index));

/* The kernel nests these fields in anonymous unions and structs; CO-RE finds them by name. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__u32 skc_portpair;
	__be16 skc_dport;
	unsigned short skc_family;
	struct {
		struct net *net;
	} skc_net;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct file;

struct socket {
	struct file *file;
} __attribute__((preserve_access_index));

/* sk_protocol has been a whole u16 since Linux 5.6; the ring buffer needs 5.8. */
struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	struct socket *sk_socket;
} __attribute__((preserve_access_index));

/* The local port is read from inet_sport, not skc_num: a socket that closes gives its port back
 * (skc_num = 0) before the tracepoint of its CLOSE transition, while inet_sport keeps it. */
struct inet_sock {
	struct sock sk;
	__be16 inet_sport;
} __attribute__((preserve_access_index));

struct qstr {
	const unsigned char *name;
} __attribute__((preserve_access_index));

struct dentry {
	struct qstr d_name;
} __attribute__((preserve_access_index));

struct path {
	struct dentry *dentry;
} __attribute__((preserve_access_index));

struct file {
	struct path f_path;
} __attribute__((preserve_access_index));

struct mm_struct {
	struct file *exe_file;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	struct mm_struct *mm;
	struct task_struct *group_leader;
	__u64 start_boottime;
	char comm[16];
} __attribute__((preserve_access_index));

/* --- The record shared with userspace: src/attrib/ebpf/record.rs reads these exact offsets. --- */

#define KIND_CONNECT 1
#define KIND_FIRST_SEND 2

/* The process that used a socket. */
struct proc_info {
	__u64 seen_ns; /* bpf_ktime_get_ns (CLOCK_MONOTONIC) when the process was seen */
	__u64 cgroup_id;
	__u64 start_boottime_ns; /* the group leader's */
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 pad;
	char comm[16]; /* the group leader's */
	char exe[256]; /* the executable's file name: NAME_MAX and its NUL, never cut */
};

/* A socket's namespace and endpoints. Ports in host order, addresses in network order. */
struct sock_info {
	__u64 netns;
	__u16 family;
	__u16 protocol;
	__u16 lport;
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
};

struct socket_event {
	__u32 kind;
	__u32 pad;
	struct sock_info sock;
	struct proc_info proc;
};

_Static_assert(sizeof(struct socket_event) == 368, "record.rs expects 368 bytes");
_Static_assert(__builtin_offsetof(struct socket_event, sock) == 8, "record.rs layout");
_Static_assert(__builtin_offsetof(struct socket_event, proc) == 56, "record.rs layout");
_Static_assert(__builtin_offsetof(struct proc_info, comm) == 40, "record.rs layout");
_Static_assert(__builtin_offsetof(struct proc_info, exe) == 56, "record.rs layout");

/* What `sent` keeps of a socket: its ports when it was first reported, and the last processes
 * reported sending on it. Another process sending on it (a socket inherited, or passed on) is
 * reported once; processes taking turns on a shared socket (forked workers) cost nothing more
 * while there are at most SEEN_TGIDS of them. A different port pair is either the same socket
 * connected since, or a new socket the allocator placed where a closed one was: reported anew. */
#define SEEN_TGIDS 4
struct seen {
	__u32 portpair;
	__u32 next; /* the slot the next process takes */
	__u32 tgid[SEEN_TGIDS];
};

/* Indexes into `counters`; record.rs names them. */
#define COUNTER_RING_FULL 0
#define COUNTER_CONNECT_UNSEEN 1
#define COUNTERS 2

/* --- Maps --- */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF_);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

/* Connecting sockets (SYN_SENT) → who connected them. LRU: an entry whose transition never comes
 * (impossible in practice) cannot fill the map; 4,096 connections in flight at once is far more
 * than a media server opens. An entry pushed out is counted when its transition finds nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_LRU);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct proc_info);
} pending SEC(".maps");

/* Sockets whose first send was reported. LRU: a socket pushed out is reported once more at its
 * next send, which costs one event and loses nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_LRU);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct seen);
} sent SEC(".maps");

/* One proc_info per CPU, filled before it is copied into `pending`: 312 bytes would not fit on
 * the program's 512-byte stack next to everything else. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY_);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_info);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_);
	__uint(max_entries, COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* --- Helpers --- */

static __always_inline void count(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&counters, &which);
	if (n)
		__sync_fetch_and_add(n, 1);
}

/* Marks a socket reported for one process, with its ports. */
static __always_inline void remember(__u64 key, __u32 portpair, __u32 tgid)
{
	struct seen now = { .portpair = portpair, .next = 1, .tgid = { tgid } };
	bpf_map_update_elem(&sent, &key, &now, BPF_ANY_);
}

/* Whether a socket belongs to a process: one opened through socket() or accept() has a file. The
 * kernel's own sockets (NFS, SMB and iSCSI clients, MPTCP subflows) have none, and their sends
 * run on behalf of whichever process did the I/O: naming that process would be wrong. */
static __always_inline int user_socket(const struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_socket, file) != 0;
}

/* Fills `p` with the current task's process. False for a kernel thread, which is no process. */
static __always_inline int fill_proc(struct proc_info *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;

	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);

	p->seen_ns = bpf_ktime_get_ns();
	p->cgroup_id = bpf_get_current_cgroup_id();
	p->start_boottime_ns = BPF_CORE_READ(leader, start_boottime);
	p->tgid = pid_tgid >> 32;
	p->tid = (__u32)pid_tgid;
	p->uid = (__u32)bpf_get_current_uid_gid();
	p->pad = 0;
	if (BPF_CORE_READ_INTO(&p->comm, leader, comm) < 0)
		p->comm[0] = 0;
	/* A failed read (no mm, no exe_file) yields a null name, and the string read below then
	 * fails and zeroes the buffer: an empty name. */
	const unsigned char *name = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(p->exe, sizeof(p->exe), name) < 0)
		p->exe[0] = 0;
	return 1;
}

static __always_inline __u16 local_port(const struct sock *sk)
{
	return bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
}

/* Fills `s` from the socket. Called once its local port is chosen. */
static __always_inline void fill_sock(struct sock_info *s, const struct sock *sk, __u16 family,
				      __u16 protocol)
{
	s->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	s->family = family;
	s->protocol = protocol;
	s->lport = local_port(sk);
	s->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	__builtin_memset(s->laddr, 0, sizeof(s->laddr));
	__builtin_memset(s->raddr, 0, sizeof(s->raddr));
	if (family == AF_INET) {
		BPF_CORE_READ_INTO((__be32 *)s->laddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)s->raddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)s->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)s->raddr, sk, __sk_common.skc_v6_daddr);
	}
}

/* --- Programs --- */

SEC("raw_tp/inet_sock_set_state")
int on_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	int oldstate = (int)ctx->args[1];
	int newstate = (int)ctx->args[2];
	__u64 key = (__u64)sk;

	/* MPTCP's sockets pass here too; only TCP's are reported. */
	__u16 protocol = BPF_CORE_READ(sk, sk_protocol);
	if (protocol != IPPROTO_TCP)
		return 0;

	if (newstate == TCP_SYN_SENT) {
		/* connect(): the connecting task is current. */
		__u32 zero = 0;
		struct proc_info *p = bpf_map_lookup_elem(&scratch, &zero);
		if (!p || !user_socket(sk) || !fill_proc(p))
			return 0;
		bpf_map_update_elem(&pending, &key, p, BPF_ANY_);
		return 0;
	}

	if (oldstate == TCP_SYN_SENT) {
		struct proc_info *p = bpf_map_lookup_elem(&pending, &key);
		if (!p) {
			/* Connecting since before the probe started, or pushed out of `pending`. The
			 * kernel's own sockets were left out on purpose, and are not counted. */
			if (user_socket(sk))
				count(COUNTER_CONNECT_UNSEEN);
		} else {
			__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
			/* No local port: the connect failed before its SYN left (no port free). */
			if (local_port(sk) != 0 && (family == AF_INET || family == AF_INET6)) {
				struct socket_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
				if (!e) {
					count(COUNTER_RING_FULL);
				} else {
					e->kind = KIND_CONNECT;
					e->pad = 0;
					fill_sock(&e->sock, sk, family, protocol);
					bpf_probe_read_kernel(&e->proc, sizeof(e->proc), p);
					bpf_ringbuf_submit(e, 0);
					/* Its owner is known: its first send need not say it again. */
					if (newstate == TCP_ESTABLISHED)
						remember(key,
							 BPF_CORE_READ(sk, __sk_common.skc_portpair),
							 p->tgid);
				}
			}
			bpf_map_delete_elem(&pending, &key);
		}
	}

	/* A closed socket's address may be given to a new socket: forget it. */
	if (newstate == TCP_CLOSE)
		bpf_map_delete_elem(&sent, &key);
	return 0;
}

SEC("raw_tp/sock_send_length")
int on_send(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	int ret = (int)ctx->args[1];
	/* A failed send sent nothing; a later one will be reported. */
	if (ret < 0)
		return 0;

	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family != AF_INET && family != AF_INET6)
		return 0;
	__u16 protocol = BPF_CORE_READ(sk, sk_protocol);
	if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
		return 0;

	__u64 key = (__u64)sk;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 portpair = BPF_CORE_READ(sk, __sk_common.skc_portpair);
	struct seen *before = bpf_map_lookup_elem(&sent, &key);
	if (before && before->portpair == portpair) {
		for (int i = 0; i < SEEN_TGIDS; i++)
			if (before->tgid[i] == tgid)
				return 0;
		/* Another process: remembered in place of the oldest (races between CPUs cost at
		 * most one more event). */
		__u32 slot = before->next & (SEEN_TGIDS - 1);
		before->tgid[slot] = tgid;
		before->next = slot + 1;
	} else {
		remember(key, portpair, tgid);
	}

	if (!user_socket(sk))
		return 0;
	struct socket_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(COUNTER_RING_FULL);
		/* Forget the socket, so that its next send is reported. */
		bpf_map_delete_elem(&sent, &key);
		return 0;
	}
	if (!fill_proc(&e->proc)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	e->kind = KIND_FIRST_SEND;
	e->pad = 0;
	fill_sock(&e->sock, sk, family, protocol);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* The kernel lets only programs under a GPL-compatible licence call bpf_probe_read_kernel and
 * bpf_get_current_task, which every attribution needs. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
