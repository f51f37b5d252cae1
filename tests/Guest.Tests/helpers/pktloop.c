/*
 * pktloop: guest-side helper of the uvdpa guest tests (compiled with gcc -static at test time, run in the initramfs).
 *
 * Sends COUNT Ethernet frames on IFACE addressed to the interface's own MAC (ethertype 0x88b5, "local experimental"),
 * one at a time, and waits for each to come back on the same interface (vdpasim_net is a loopback). Each frame carries
 * a sequence number and a payload derived from it; a received frame is verified byte for byte. Frame lengths cycle
 * through 60, 128, 512, 1000 and 1514 bytes (without FCS).
 *
 * Prints one line: "UVDPA-RESULT pktloop sent=N received=N verified=N bad=N timeouts=N bytes=N".
 * Usage: pktloop IFACE COUNT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define ETHERTYPE_TEST 0x88b5
#define MAGIC 0x75766470u /* "uvdp" */

static const int sizes[] = {60, 128, 512, 1000, 1514};

static void fill(unsigned char *frame, int len, const unsigned char *mac, unsigned int seq)
{
    memcpy(frame, mac, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = ETHERTYPE_TEST >> 8;
    frame[13] = ETHERTYPE_TEST & 0xff;
    unsigned int m = htonl(MAGIC), s = htonl(seq);
    memcpy(frame + 14, &m, 4);
    memcpy(frame + 18, &s, 4);
    for (int i = 22; i < len; i++)
        frame[i] = (unsigned char)(seq * 31u + (unsigned int)i * 7u);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: pktloop IFACE COUNT\n");
        return 2;
    }
    const char *ifname = argv[1];
    long count = strtol(argv[2], NULL, 10);
    if (count <= 0 || count > 1000000) {
        fprintf(stderr, "pktloop: bad COUNT %s\n", argv[2]);
        return 2;
    }

    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETHERTYPE_TEST));
    if (fd < 0) {
        perror("pktloop: socket(AF_PACKET)");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        perror("pktloop: SIOCGIFINDEX");
        return 1;
    }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        perror("pktloop: SIOCGIFHWADDR");
        return 1;
    }
    unsigned char mac[6];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);

    struct sockaddr_ll addr;
    memset(&addr, 0, sizeof addr);
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(ETHERTYPE_TEST);
    addr.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("pktloop: bind");
        return 1;
    }
    /* Generous: the guest is emulated (TCG) and the back-end is a .NET process on a loaded 2-core host. */
    struct timeval tv = {.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    unsigned char out[1514], in[2048];
    long sent = 0, received = 0, verified = 0, bad = 0, timeouts = 0, bytes = 0;
    for (long n = 0; n < count; n++) {
        int len = sizes[n % (long)(sizeof sizes / sizeof sizes[0])];
        fill(out, len, mac, (unsigned int)n);
        addr.sll_halen = 6;
        memcpy(addr.sll_addr, mac, 6);
        if (sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&addr, sizeof addr) != len) {
            perror("pktloop: sendto");
            break;
        }
        sent++;
        bytes += len;
        /* Wait for this frame; the socket also sees our own outgoing copy (PACKET_OUTGOING), which is skipped. */
        for (;;) {
            struct sockaddr_ll from;
            socklen_t fromlen = sizeof from;
            ssize_t r = recvfrom(fd, in, sizeof in, 0, (struct sockaddr *)&from, &fromlen);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                timeouts++;
                break;
            }
            if (from.sll_pkttype == PACKET_OUTGOING)
                continue;
            received++;
            unsigned int m, s;
            memcpy(&m, in + 14, 4);
            memcpy(&s, in + 18, 4);
            if (r >= 22 && ntohl(m) == MAGIC && ntohl(s) != (unsigned int)n) {
                bad++; /* a frame out of order (or a duplicate): count it, keep waiting for ours */
                continue;
            }
            if (r == len && memcmp(in, out, (size_t)len) == 0)
                verified++;
            else
                bad++;
            break;
        }
        if (timeouts > 0)
            break; /* one lost frame is enough to fail; do not spend COUNT x 10 s */
    }
    printf("UVDPA-RESULT pktloop sent=%ld received=%ld verified=%ld bad=%ld timeouts=%ld bytes=%ld\n",
           sent, received, verified, bad, timeouts, bytes);
    close(fd);
    return verified == count ? 0 : 1;
}
