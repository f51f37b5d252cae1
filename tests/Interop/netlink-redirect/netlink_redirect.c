/*
 * Test-only LD_PRELOAD shim: redirects an unmodified netlink client's NETLINK_GENERIC socket (iproute2's vdpa,
 * through libmnl) to vdpad's Unix SOCK_SEQPACKET socket named by $UVDPA_SOCKET. Each datagram vdpad sends is what
 * one recvmsg on a NETLINK_GENERIC socket would return, so the client sees the same byte stream.
 *
 * Build: cc -shared -fPIC -O2 -o netlink_redirect.so netlink_redirect.c -ldl
 * Use:   UVDPA_SOCKET=/run/uvdpa/vdpad.sock LD_PRELOAD=./netlink_redirect.so vdpa dev show
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FDS 64
static int redirected[MAX_FDS];
static int nredirected;

static int is_redirected(int fd)
{
	for (int i = 0; i < nredirected; i++)
		if (redirected[i] == fd)
			return 1;
	return 0;
}

static void forget(int fd)
{
	for (int i = 0; i < nredirected; i++)
		if (redirected[i] == fd) {
			redirected[i] = redirected[--nredirected];
			return;
		}
}

static void fill_nl_addr(void *addr, socklen_t *len, unsigned int pid)
{
	struct sockaddr_nl nl = { .nl_family = AF_NETLINK, .nl_pid = pid };
	if (addr && len && *len >= sizeof(nl))
		memcpy(addr, &nl, sizeof(nl));
	if (len)
		*len = sizeof(nl);
}

int socket(int domain, int type, int protocol)
{
	static int (*real_socket)(int, int, int);
	static int (*real_connect)(int, const struct sockaddr *, socklen_t);
	if (!real_socket) {
		real_socket = dlsym(RTLD_NEXT, "socket");
		real_connect = dlsym(RTLD_NEXT, "connect");
	}
	if (domain != AF_NETLINK || protocol != NETLINK_GENERIC)
		return real_socket(domain, type, protocol);
	const char *path = getenv("UVDPA_SOCKET");
	if (!path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path) || nredirected == MAX_FDS) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	int fd = real_socket(AF_UNIX, SOCK_SEQPACKET | (type & SOCK_CLOEXEC), 0);
	if (fd < 0)
		return -1;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	strcpy(un.sun_path, path);
	if (real_connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	redirected[nredirected++] = fd;
	return fd;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	static int (*real_bind)(int, const struct sockaddr *, socklen_t);
	if (!real_bind)
		real_bind = dlsym(RTLD_NEXT, "bind");
	return is_redirected(fd) ? 0 : real_bind(fd, addr, len);
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
	if (!real_getsockname)
		real_getsockname = dlsym(RTLD_NEXT, "getsockname");
	if (!is_redirected(fd))
		return real_getsockname(fd, addr, len);
	fill_nl_addr(addr, len, (unsigned int)getpid());
	return 0;
}

int setsockopt(int fd, int level, int name, const void *value, socklen_t len)
{
	static int (*real_setsockopt)(int, int, int, const void *, socklen_t);
	if (!real_setsockopt)
		real_setsockopt = dlsym(RTLD_NEXT, "setsockopt");
	/* NETLINK_EXT_ACK / NETLINK_CAP_ACK: vdpad always behaves as if both were set. */
	return is_redirected(fd) && level == SOL_NETLINK ? 0 : real_setsockopt(fd, level, name, value, len);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *dest, socklen_t destlen)
{
	static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	if (!real_sendto)
		real_sendto = dlsym(RTLD_NEXT, "sendto");
	return is_redirected(fd) ? real_sendto(fd, buf, len, flags, NULL, 0) : real_sendto(fd, buf, len, flags, dest, destlen);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
	if (!real_sendmsg)
		real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	if (!is_redirected(fd))
		return real_sendmsg(fd, msg, flags);
	struct msghdr copy = *msg;
	copy.msg_name = NULL;
	copy.msg_namelen = 0;
	return real_sendmsg(fd, &copy, flags);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
	if (!real_recvmsg)
		real_recvmsg = dlsym(RTLD_NEXT, "recvmsg");
	if (!is_redirected(fd))
		return real_recvmsg(fd, msg, flags);
	void *name = msg->msg_name;
	socklen_t namelen = msg->msg_namelen;
	msg->msg_name = NULL;
	msg->msg_namelen = 0;
	ssize_t n = real_recvmsg(fd, msg, flags);
	msg->msg_name = name;
	msg->msg_namelen = namelen;
	if (n >= 0)
		fill_nl_addr(name, &msg->msg_namelen, 0); /* from the "kernel" */
	return n;
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *src, socklen_t *srclen)
{
	static ssize_t (*real_recvfrom)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
	if (!real_recvfrom)
		real_recvfrom = dlsym(RTLD_NEXT, "recvfrom");
	if (!is_redirected(fd))
		return real_recvfrom(fd, buf, len, flags, src, srclen);
	ssize_t n = real_recvfrom(fd, buf, len, flags, NULL, NULL);
	if (n >= 0)
		fill_nl_addr(src, srclen, 0);
	return n;
}

int close(int fd)
{
	static int (*real_close)(int);
	if (!real_close)
		real_close = dlsym(RTLD_NEXT, "close");
	forget(fd);
	return real_close(fd);
}
