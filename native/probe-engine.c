/*
 * ringfence native probe engine.
 *
 * Why native: a Node `net.connect` loop is CPU-bound near 10k probes/s on this class of machine,
 * while nmap -sT reaches ~28k (see shared research, lab-and-peers.md §5). The probe loop is the
 * only hot part of a discovery scan, so it runs here, on its own thread, driven by epoll; target
 * generation, the scope guard, storage and output stay in TypeScript.
 *
 * Two probe kinds, chosen by the caller:
 *  - connect: non-blocking connect(2), as nmap -sT. Works unprivileged. SO_LINGER{1,0} makes
 *    close(2) send RST, so a scan leaves no TIME_WAIT behind and open ports are never half-used.
 *  - syn: raw SYN probes, as nmap -sS / ZMap. Needs CAP_NET_RAW. Responses are matched
 *    statelessly by a cookie in the sequence number (ZMap's validation idea: ack-1 == hash of the
 *    probe), and the kernel of the scanning host answers every SYN-ACK with RST because no socket
 *    owns it, so no connection is ever completed on the target.
 *
 * The scope guard is applied by the TypeScript caller on every address before it is pushed here;
 * this file never chooses a destination on its own.
 */
#define _GNU_SOURCE
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NAPI_OK(call)                                                                              \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, "RINGFENCE_ENGINE", "N-API call failed: " #call);                      \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

enum { KIND_CONNECT = 0, KIND_SYN = 1 };
enum { STATE_OPEN = 0, STATE_CLOSED = 1, STATE_FILTERED = 2 };
/* Reasons use nmap's --reason vocabulary; the TypeScript side holds the matching names. */
enum {
  REASON_SYN_ACK = 0,
  REASON_CONN_REFUSED = 1,
  REASON_RESET = 2,
  REASON_NO_RESPONSE = 3,
  REASON_HOST_UNREACH = 4,
  REASON_NET_UNREACH = 5,
  REASON_ADMIN_PROHIBITED = 6,
};

/* One result as the TypeScript side reads it from the batch buffer (16 bytes, little endian). */
typedef struct {
  uint32_t addr; /* host byte order */
  uint16_t port;
  uint8_t state;
  uint8_t reason;
  uint32_t tag;
  float rtt_ms;
} result_t;

typedef struct {
  uint32_t addr;
  uint16_t port;
  uint8_t tries;
  uint32_t tag;
} probe_t;

typedef struct {
  probe_t probe;
  int fd;             /* connect kind */
  uint32_t gen;       /* bumped on every reuse, to drop stale timeout/epoll entries */
  uint64_t start_ns;
  int in_use;
  int32_t next_free;
} slot_t;

typedef struct {
  uint32_t slot;
  uint32_t gen;
  uint64_t deadline_ns;
} deadline_t;

/* A growable FIFO of probes; the input queue is shared with the JS thread under `lock`. */
typedef struct {
  probe_t *items;
  size_t head, len, cap;
} probe_queue_t;

typedef struct {
  result_t *results;
  size_t count;
  /* Statistics at flush time, so the progress display never needs to ask the thread. */
  double sent, retries, in_flight, queued, concurrency_limit, fd_limit_hits, port_limit_hits;
  int done;
  int need_input;
  char error[320];
} batch_t;

typedef struct engine {
  int kind;
  uint32_t concurrency;
  uint32_t effective_concurrency;
  uint64_t timeout_ns;
  uint32_t retries;
  double rate; /* probes per second; 0 = unlimited */
  char netns_path[256];
  uint16_t sport_base;

  pthread_t thread;
  int thread_started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  probe_queue_t input; /* guarded by lock */
  volatile int ended; /* guarded by lock */
  volatile int cancelled;

  napi_threadsafe_function tsfn;

  /* Thread-owned state below. */
  int epfd;
  int raw_send_fd, raw_recv_fd, icmp_fd;
  slot_t *slots;
  int32_t free_head;
  uint32_t in_flight;
  deadline_t *deadlines; /* ring, launch order = deadline order (one timeout for all) */
  size_t dl_head, dl_len, dl_cap;
  probe_queue_t retry;
  /* syn kind: open-addressing map (addr,port) -> slot+1 */
  uint32_t *map;
  uint32_t map_mask;
  uint32_t secret;
  uint32_t src_cache_net, src_cache_addr;

  result_t *pending;
  size_t pending_count, pending_cap;
  uint64_t last_flush_ns;
  double tokens;
  uint64_t last_refill_ns;
  double sent, retries_sent, fd_limit_hits, port_limit_hits;
  int low_signalled;
  char error[320];
} engine_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---------- queues ---------- */

static int queue_push(probe_queue_t *q, probe_t p) {
  if (q->len == q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 4096;
    probe_t *items = malloc(cap * sizeof(probe_t));
    if (!items) return -1;
    for (size_t i = 0; i < q->len; i++) items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->head = 0;
    q->cap = cap;
  }
  q->items[(q->head + q->len) % q->cap] = p;
  q->len++;
  return 0;
}

static int queue_pop(probe_queue_t *q, probe_t *out) {
  if (q->len == 0) return 0;
  *out = q->items[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  return 1;
}

/* ---------- results ---------- */

static void flush(engine_t *e, int done, int need_input);

static void emit(engine_t *e, const probe_t *p, int state, int reason, uint64_t start_ns) {
  if (e->pending_count == e->pending_cap) flush(e, 0, 0);
  result_t *r = &e->pending[e->pending_count++];
  r->addr = p->addr;
  r->port = p->port;
  r->state = (uint8_t)state;
  r->reason = (uint8_t)reason;
  r->tag = p->tag;
  r->rtt_ms = start_ns ? (float)((double)(now_ns() - start_ns) / 1e6) : -1.0f;
}

static void flush(engine_t *e, int done, int need_input) {
  if (e->pending_count == 0 && !done && !need_input) return;
  batch_t *b = calloc(1, sizeof(batch_t));
  if (!b) return; /* out of memory: results stay pending and go with the next flush */
  b->results = e->pending_count ? malloc(e->pending_count * sizeof(result_t)) : NULL;
  if (e->pending_count && !b->results) {
    free(b);
    return;
  }
  if (e->pending_count) memcpy(b->results, e->pending, e->pending_count * sizeof(result_t));
  b->count = e->pending_count;
  b->sent = e->sent;
  b->retries = e->retries_sent;
  b->in_flight = e->in_flight;
  pthread_mutex_lock(&e->lock);
  b->queued = (double)(e->input.len + e->retry.len);
  pthread_mutex_unlock(&e->lock);
  b->concurrency_limit = e->effective_concurrency;
  b->fd_limit_hits = e->fd_limit_hits;
  b->port_limit_hits = e->port_limit_hits;
  b->done = done;
  b->need_input = need_input;
  memcpy(b->error, e->error, sizeof(b->error));
  e->pending_count = 0;
  e->last_flush_ns = now_ns();
  /* Blocking call: if JS falls behind, the probe thread waits instead of buffering without bound. */
  napi_call_threadsafe_function(e->tsfn, b, napi_tsfn_blocking);
}

/* ---------- slots and deadlines ---------- */

static int32_t slot_take(engine_t *e) {
  int32_t s = e->free_head;
  if (s < 0) return -1;
  e->free_head = e->slots[s].next_free;
  e->slots[s].in_use = 1;
  e->slots[s].gen++;
  e->in_flight++;
  return s;
}

static void slot_release(engine_t *e, int32_t s) {
  e->slots[s].in_use = 0;
  e->slots[s].gen++;
  e->slots[s].next_free = e->free_head;
  e->free_head = s;
  e->in_flight--;
}

/* Entries of probes decided early stay in the ring until they reach its head, so the ring can
   hold more entries than there are probes in flight: it grows instead of dropping a deadline. */
static int deadline_push(engine_t *e, int32_t s) {
  if (e->dl_len == e->dl_cap) {
    size_t cap = e->dl_cap * 2;
    deadline_t *ring = malloc(cap * sizeof(deadline_t));
    if (!ring) return -1;
    for (size_t i = 0; i < e->dl_len; i++) ring[i] = e->deadlines[(e->dl_head + i) % e->dl_cap];
    free(e->deadlines);
    e->deadlines = ring;
    e->dl_head = 0;
    e->dl_cap = cap;
  }
  deadline_t *d = &e->deadlines[(e->dl_head + e->dl_len) % e->dl_cap];
  d->slot = (uint32_t)s;
  d->gen = e->slots[s].gen;
  d->deadline_ns = e->slots[s].start_ns + e->timeout_ns;
  e->dl_len++;
  return 0;
}

/* ---------- syn kind: packet building, cookies, map ---------- */

static uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

static uint32_t cookie(engine_t *e, uint32_t addr, uint16_t port, uint16_t sport) {
  return mix32(addr ^ mix32(((uint32_t)port << 16 | sport) ^ e->secret));
}

static uint16_t sport_for(engine_t *e, const probe_t *p) {
  /* Spread source ports over a 1024-port window above the default ephemeral range (32768-60999),
     so the kernel never hands one of them to a real socket while we use it. */
  return (uint16_t)(e->sport_base + ((mix32(p->addr * 31u + p->port + p->tries * 7919u) ^ e->secret) & 1023u));
}

static uint32_t map_hash(uint32_t addr, uint16_t port) { return mix32(addr * 0x9e3779b1u ^ port); }

static void map_put(engine_t *e, uint32_t addr, uint16_t port, int32_t s) {
  uint32_t i = map_hash(addr, port) & e->map_mask;
  while (e->map[i]) i = (i + 1) & e->map_mask;
  e->map[i] = (uint32_t)s + 1;
}

static int32_t map_find(engine_t *e, uint32_t addr, uint16_t port, uint32_t *pos) {
  uint32_t i = map_hash(addr, port) & e->map_mask;
  while (e->map[i]) {
    slot_t *sl = &e->slots[e->map[i] - 1];
    if (sl->probe.addr == addr && sl->probe.port == port) {
      *pos = i;
      return (int32_t)(e->map[i] - 1);
    }
    i = (i + 1) & e->map_mask;
  }
  return -1;
}

/* Backward-shift deletion keeps linear probing correct without tombstones. */
static void map_delete_at(engine_t *e, uint32_t pos) {
  uint32_t i = pos;
  for (;;) {
    e->map[i] = 0;
    uint32_t j = i;
    for (;;) {
      j = (j + 1) & e->map_mask;
      if (!e->map[j]) return;
      slot_t *sl = &e->slots[e->map[j] - 1];
      uint32_t home = map_hash(sl->probe.addr, sl->probe.port) & e->map_mask;
      /* Move j back to i if its home is cyclically outside (i, j]. */
      if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
        e->map[i] = e->map[j];
        i = j;
        break;
      }
    }
  }
}

static uint16_t checksum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *data, size_t len) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (len & 1) sum += (uint32_t)(data[len - 1] << 8);
  return sum;
}

/* The kernel picks the source address from the route; ask it once per /24 with a UDP connect. */
static uint32_t source_for(engine_t *e, uint32_t dst) {
  uint32_t net = dst & 0xffffff00u;
  if (e->src_cache_addr && e->src_cache_net == net) return e->src_cache_addr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  uint32_t src = 0;
  if (fd >= 0) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(dst)};
    socklen_t len = sizeof(sa);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
      src = ntohl(sa.sin_addr.s_addr);
    close(fd);
  }
  e->src_cache_net = net;
  e->src_cache_addr = src;
  return src;
}

static int send_syn(engine_t *e, const probe_t *p) {
  uint8_t pkt[44];
  memset(pkt, 0, sizeof(pkt));
  uint32_t src = source_for(e, p->addr);
  if (!src) return -1;
  uint16_t sport = sport_for(e, p);
  /* IPv4 header (RFC 791); with IPPROTO_RAW the kernel fills in the checksum and total length. */
  pkt[0] = 0x45;
  pkt[3] = sizeof(pkt);
  pkt[2] = 0;
  pkt[8] = 64;
  pkt[9] = IPPROTO_TCP;
  uint32_t s_be = htonl(src), d_be = htonl(p->addr);
  memcpy(pkt + 12, &s_be, 4);
  memcpy(pkt + 16, &d_be, 4);
  /* TCP header (RFC 9293 §3.1) with an MSS option, as real stacks and nmap send. */
  uint8_t *t = pkt + 20;
  t[0] = (uint8_t)(sport >> 8);
  t[1] = (uint8_t)sport;
  t[2] = (uint8_t)(p->port >> 8);
  t[3] = (uint8_t)p->port;
  uint32_t seq = cookie(e, p->addr, p->port, sport);
  t[4] = (uint8_t)(seq >> 24);
  t[5] = (uint8_t)(seq >> 16);
  t[6] = (uint8_t)(seq >> 8);
  t[7] = (uint8_t)seq;
  t[12] = 6 << 4; /* data offset: 24 bytes */
  t[13] = 0x02;   /* SYN */
  t[14] = 0x04;   /* window 1024 */
  t[15] = 0x00;
  t[20] = 2; /* MSS */
  t[21] = 4;
  t[22] = 0x05;
  t[23] = 0xb4; /* 1460 */
  uint8_t pseudo[12];
  memcpy(pseudo, &s_be, 4);
  memcpy(pseudo + 4, &d_be, 4);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  pseudo[10] = 0;
  pseudo[11] = 24;
  uint32_t sum = checksum_add(0, pseudo, sizeof(pseudo));
  sum = checksum_add(sum, t, 24);
  uint16_t c = checksum_fold(sum);
  t[16] = (uint8_t)(c >> 8);
  t[17] = (uint8_t)c;
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = d_be};
  ssize_t n = sendto(e->raw_send_fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa));
  return n == (ssize_t)sizeof(pkt) ? 0 : -1;
}

/* Classic BPF on the raw receive socket: keep only TCP segments with RST, or SYN+ACK, whose
   destination port is in our source-port window; everything else (including our own SYNs, which
   loop back on lo) is dropped in the kernel before it costs a wakeup. */
static int attach_filter(int fd, uint16_t lo, uint16_t hi) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 0),             /* X = IP header length */
      BPF_STMT(BPF_LD | BPF_H | BPF_IND, 2),              /* A = TCP dport */
      BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, lo, 0, 6),      /* < lo -> drop */
      BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, hi, 5, 0),      /* > hi -> drop */
      BPF_STMT(BPF_LD | BPF_B | BPF_IND, 13),             /* A = TCP flags */
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x04, 2, 0),   /* RST -> keep */
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0x12),          /* A &= SYN|ACK */
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x12, 0, 1),    /* SYN+ACK -> keep */
      BPF_STMT(BPF_RET | BPF_K, 0xffff),
      BPF_STMT(BPF_RET | BPF_K, 0),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

static void syn_receive(engine_t *e) {
  uint8_t buf[256];
  for (;;) {
    ssize_t n = recv(e->raw_recv_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) return;
    if (n < 20) continue;
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    if (ihl < 20 || (size_t)n < ihl + 20) continue;
    uint32_t saddr = (uint32_t)buf[12] << 24 | (uint32_t)buf[13] << 16 | (uint32_t)buf[14] << 8 | buf[15];
    const uint8_t *t = buf + ihl;
    uint16_t sport = (uint16_t)(t[0] << 8 | t[1]);
    uint16_t dport = (uint16_t)(t[2] << 8 | t[3]);
    uint32_t ack = (uint32_t)t[8] << 24 | (uint32_t)t[9] << 16 | (uint32_t)t[10] << 8 | t[11];
    uint8_t flags = t[13];
    uint32_t pos;
    int32_t s = map_find(e, saddr, sport, &pos);
    if (s < 0) continue; /* late answer to a probe already decided, or not ours */
    slot_t *sl = &e->slots[s];
    /* Validate: the answer must acknowledge the cookie we sent from this source port. */
    if (ack - 1 != cookie(e, saddr, sport, dport)) continue;
    if ((flags & 0x12) == 0x12) emit(e, &sl->probe, STATE_OPEN, REASON_SYN_ACK, sl->start_ns);
    else emit(e, &sl->probe, STATE_CLOSED, REASON_RESET, sl->start_ns);
    map_delete_at(e, pos);
    slot_release(e, s);
  }
}

/* ICMP destination unreachable quoting one of our SYNs: filtered, as nmap reports it. */
static void icmp_receive(engine_t *e) {
  uint8_t buf[576];
  for (;;) {
    ssize_t n = recv(e->icmp_fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) return;
    if (n < 20) continue;
    size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
    if ((size_t)n < ihl + 8 + 20 + 8) continue;
    const uint8_t *icmp = buf + ihl;
    if (icmp[0] != 3) continue; /* destination unreachable */
    const uint8_t *inner = icmp + 8;
    size_t iihl = (size_t)(inner[0] & 0x0f) * 4;
    if (inner[9] != IPPROTO_TCP || (size_t)n < ihl + 8 + iihl + 8) continue;
    uint32_t daddr = (uint32_t)inner[16] << 24 | (uint32_t)inner[17] << 16 | (uint32_t)inner[18] << 8 | inner[19];
    const uint8_t *t = inner + iihl;
    uint16_t sport = (uint16_t)(t[0] << 8 | t[1]);
    uint16_t dport = (uint16_t)(t[2] << 8 | t[3]);
    uint32_t seq = (uint32_t)t[4] << 24 | (uint32_t)t[5] << 16 | (uint32_t)t[6] << 8 | t[7];
    uint32_t pos;
    int32_t s = map_find(e, daddr, dport, &pos);
    if (s < 0 || seq != cookie(e, daddr, dport, sport)) continue;
    int code = icmp[1];
    int reason = code == 0 ? REASON_NET_UNREACH
                 : (code == 9 || code == 10 || code == 13) ? REASON_ADMIN_PROHIBITED
                                                           : REASON_HOST_UNREACH;
    if (code == 3) { /* port unreachable for TCP: treat as closed, as nmap does for -sS */
      emit(e, &e->slots[s].probe, STATE_CLOSED, REASON_RESET, e->slots[s].start_ns);
    } else {
      emit(e, &e->slots[s].probe, STATE_FILTERED, reason, e->slots[s].start_ns);
    }
    map_delete_at(e, pos);
    slot_release(e, s);
  }
}

/* ---------- connect kind ---------- */

static int classify_errno(int err, int *state, int *reason) {
  switch (err) {
    case 0: *state = STATE_OPEN; *reason = REASON_SYN_ACK; return 1;
    case ECONNREFUSED: *state = STATE_CLOSED; *reason = REASON_CONN_REFUSED; return 1;
    case EHOSTUNREACH: *state = STATE_FILTERED; *reason = REASON_HOST_UNREACH; return 1;
    case ENETUNREACH: *state = STATE_FILTERED; *reason = REASON_NET_UNREACH; return 1;
    case EACCES:
    case EPERM: *state = STATE_FILTERED; *reason = REASON_ADMIN_PROHIBITED; return 1;
    case ETIMEDOUT: *state = STATE_FILTERED; *reason = REASON_NO_RESPONSE; return 1;
    default: return 0;
  }
}

static void connect_finish(engine_t *e, int32_t s, int err) {
  slot_t *sl = &e->slots[s];
  int state, reason;
  if (!classify_errno(err, &state, &reason)) {
    state = STATE_FILTERED;
    reason = REASON_HOST_UNREACH;
  }
  emit(e, &sl->probe, state, reason, sl->start_ns);
  epoll_ctl(e->epfd, EPOLL_CTL_DEL, sl->fd, NULL);
  close(sl->fd);
  sl->fd = -1;
  slot_release(e, s);
}

/* Returns 1 if launched or decided, 0 if the probe must wait (resource limit), -1 on fatal error. */
static int launch_connect(engine_t *e, const probe_t *p) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      e->fd_limit_hits++;
      /* Back off: the process is at its open-file limit; shrink the window for the rest of the run. */
      if (e->effective_concurrency > 64 && e->in_flight > 0)
        e->effective_concurrency = e->in_flight > 128 ? e->in_flight - 64 : 64;
      return 0;
    }
    snprintf(e->error, sizeof(e->error), "socket(): %s", strerror(errno));
    return -1;
  }
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(p->port), .sin_addr.s_addr = htonl(p->addr)};
  int32_t s = slot_take(e);
  slot_t *sl = &e->slots[s];
  sl->probe = *p;
  sl->fd = fd;
  sl->start_ns = now_ns();
  e->sent++;
  if (p->tries > 0) e->retries_sent++;
  int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
  if (rc == 0) {
    connect_finish(e, s, 0);
    return 1;
  }
  if (errno == EINPROGRESS) {
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLERR | EPOLLHUP,
                             .data.u64 = (uint64_t)s | ((uint64_t)sl->gen << 32)};
    epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev);
    deadline_push(e, s);
    return 1;
  }
  if (errno == EADDRNOTAVAIL || errno == EAGAIN) {
    /* Out of ephemeral ports towards this destination: retry later. */
    e->port_limit_hits++;
    close(fd);
    sl->fd = -1;
    slot_release(e, s);
    e->sent--;
    return 0;
  }
  connect_finish(e, s, errno);
  return 1;
}

static int launch_syn(engine_t *e, const probe_t *p) {
  int32_t s = slot_take(e);
  slot_t *sl = &e->slots[s];
  sl->probe = *p;
  sl->fd = -1;
  sl->start_ns = now_ns();
  if (send_syn(e, p) != 0) {
    if (errno == ENOBUFS || errno == EAGAIN) {
      slot_release(e, s);
      return 0;
    }
    /* EPERM from a local firewall, ENETUNREACH, ...: the probe cannot leave; report it. */
    int state, reason;
    if (!classify_errno(errno, &state, &reason)) {
      state = STATE_FILTERED;
      reason = REASON_HOST_UNREACH;
    }
    emit(e, p, state, reason, 0);
    slot_release(e, s);
    return 1;
  }
  e->sent++;
  if (p->tries > 0) e->retries_sent++;
  map_put(e, p->addr, p->port, s);
  deadline_push(e, s);
  return 1;
}

static void sweep_timeouts(engine_t *e, uint64_t now) {
  while (e->dl_len) {
    deadline_t *d = &e->deadlines[e->dl_head];
    slot_t *sl = &e->slots[d->slot];
    if (!sl->in_use || sl->gen != d->gen) { /* already decided */
      e->dl_head = (e->dl_head + 1) % e->dl_cap;
      e->dl_len--;
      continue;
    }
    if (d->deadline_ns > now) return;
    e->dl_head = (e->dl_head + 1) % e->dl_cap;
    e->dl_len--;
    probe_t p = sl->probe;
    int32_t s = (int32_t)d->slot;
    if (e->kind == KIND_CONNECT) {
      epoll_ctl(e->epfd, EPOLL_CTL_DEL, sl->fd, NULL);
      close(sl->fd);
      sl->fd = -1;
    } else {
      uint32_t pos = 0;
      if (map_find(e, p.addr, p.port, &pos) == s) map_delete_at(e, pos);
    }
    uint64_t start = sl->start_ns;
    slot_release(e, s);
    /* Retries are for silence only: a RST or an ICMP error is an answer, never retried. */
    if (p.tries < e->retries) {
      p.tries++;
      queue_push(&e->retry, p);
    } else {
      emit(e, &p, STATE_FILTERED, REASON_NO_RESPONSE, start);
    }
  }
}

static int next_probe(engine_t *e, probe_t *out) {
  if (queue_pop(&e->retry, out)) return 1;
  pthread_mutex_lock(&e->lock);
  int got = queue_pop(&e->input, out);
  pthread_mutex_unlock(&e->lock);
  return got;
}

static void refill_tokens(engine_t *e, uint64_t now) {
  if (e->rate <= 0) return;
  double dt = (double)(now - e->last_refill_ns) / 1e9;
  e->last_refill_ns = now;
  e->tokens += dt * e->rate;
  /* Burst of at most 10 ms worth of probes, but at least one. */
  double cap = e->rate / 100.0 > 1.0 ? e->rate / 100.0 : 1.0;
  if (e->tokens > cap) e->tokens = cap;
}

static int setup_sockets(engine_t *e) {
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0) {
    snprintf(e->error, sizeof(e->error), "epoll_create1: %s", strerror(errno));
    return -1;
  }
  if (e->kind != KIND_SYN) return 0;
  e->raw_send_fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  e->raw_recv_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  e->icmp_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (e->raw_send_fd < 0 || e->raw_recv_fd < 0) {
    snprintf(e->error, sizeof(e->error), "raw socket: %s (SYN probes need CAP_NET_RAW)", strerror(errno));
    return -1;
  }
  int big = 32 << 20;
  if (setsockopt(e->raw_recv_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0)
    setsockopt(e->raw_recv_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  setsockopt(e->raw_send_fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
  if (attach_filter(e->raw_recv_fd, e->sport_base, (uint16_t)(e->sport_base + 1023)) != 0) {
    snprintf(e->error, sizeof(e->error), "SO_ATTACH_FILTER: %s", strerror(errno));
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
  epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->raw_recv_fd, &ev);
  if (e->icmp_fd >= 0) {
    struct epoll_event ev2 = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
    epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->icmp_fd, &ev2);
  }
  return 0;
}

static void *engine_main(void *arg) {
  engine_t *e = arg;
  if (e->netns_path[0]) {
    int nsfd = open(e->netns_path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
      snprintf(e->error, sizeof(e->error), "cannot enter network namespace %s: %s", e->netns_path,
               strerror(errno));
      if (nsfd >= 0) close(nsfd);
      flush(e, 1, 0);
      return NULL;
    }
    close(nsfd);
  }
  if (setup_sockets(e) != 0) {
    flush(e, 1, 0);
    return NULL;
  }
  struct epoll_event events[512];
  e->last_refill_ns = e->last_flush_ns = now_ns();
  for (;;) {
    if (e->cancelled) break;
    uint64_t now = now_ns();
    refill_tokens(e, now);
    int fatal = 0;
    int blocked = 0;
    while (e->in_flight < e->effective_concurrency && (e->rate <= 0 || e->tokens >= 1.0)) {
      probe_t p;
      if (!next_probe(e, &p)) break;
      int rc = e->kind == KIND_SYN ? launch_syn(e, &p) : launch_connect(e, &p);
      if (rc < 0) {
        fatal = 1;
        break;
      }
      if (rc == 0) {
        queue_push(&e->retry, p);
        blocked = 1;
        break;
      }
      if (e->rate > 0) e->tokens -= 1.0;
    }
    if (fatal) break;

    pthread_mutex_lock(&e->lock);
    size_t queued = e->input.len;
    int ended = e->ended;
    pthread_mutex_unlock(&e->lock);
    queued += e->retry.len;
    if (ended && queued == 0 && e->in_flight == 0) break;
    /* Ask JS for more targets before the queue runs dry, once per low-water crossing. */
    int low = !ended && queued < (size_t)e->effective_concurrency;
    if (low && !e->low_signalled) {
      e->low_signalled = 1;
      flush(e, 0, 1);
    } else if (!low) {
      e->low_signalled = 0;
    }

    int timeout_ms = 5;
    if (e->in_flight == 0 && queued == 0) {
      /* Idle until JS pushes more targets or ends the run. */
      pthread_mutex_lock(&e->lock);
      if (e->input.len == 0 && !e->ended && !e->cancelled) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
          ts.tv_sec++;
          ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&e->cond, &e->lock, &ts);
      }
      pthread_mutex_unlock(&e->lock);
      flush(e, 0, 0);
      continue;
    }
    if (blocked) timeout_ms = 1;
    int n = epoll_wait(e->epfd, events, 512, e->in_flight ? timeout_ms : 1);
    /* Handle every answer already queued before sweeping timeouts, so that a slow turn of the
       loop never turns an answered probe into a false "filtered". */
    for (; n > 0; n = n == 512 ? epoll_wait(e->epfd, events, 512, 0) : 0)
    for (int i = 0; i < n; i++) {
      uint64_t data = events[i].data.u64;
      if (data == UINT64_MAX) {
        syn_receive(e);
        continue;
      }
      if (data == UINT64_MAX - 1) {
        icmp_receive(e);
        continue;
      }
      int32_t s = (int32_t)(data & 0xffffffffu);
      uint32_t gen = (uint32_t)(data >> 32);
      slot_t *sl = &e->slots[s];
      if (!sl->in_use || sl->gen != gen) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(sl->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      connect_finish(e, s, err);
    }
    now = now_ns();
    sweep_timeouts(e, now);
    if (e->pending_count >= 4096 || (e->pending_count && now - e->last_flush_ns > 20000000ull))
      flush(e, 0, 0);
  }
  /* Cancelled or failed: close what is still open; undecided probes are simply not reported. */
  for (uint32_t i = 0; i < e->concurrency; i++)
    if (e->slots[i].in_use && e->slots[i].fd >= 0) close(e->slots[i].fd);
  flush(e, 1, 0);
  return NULL;
}

/* ---------- N-API glue ---------- */

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  (void)context;
  batch_t *b = data;
  if (env == NULL || js_cb == NULL) {
    free(b->results);
    free(b);
    return;
  }
  napi_value buf, stats, undef, argv[2], tmp;
  void *dst;
  size_t bytes = b->count * sizeof(result_t);
  if (napi_create_arraybuffer(env, bytes, &dst, &buf) != napi_ok) goto out;
  if (bytes) memcpy(dst, b->results, bytes);
  napi_create_object(env, &stats);
#define SET_NUM(name, value)                                                                       \
  napi_create_double(env, (double)(value), &tmp);                                                  \
  napi_set_named_property(env, stats, name, tmp);
  SET_NUM("sent", b->sent);
  SET_NUM("retries", b->retries);
  SET_NUM("inFlight", b->in_flight);
  SET_NUM("queued", b->queued);
  SET_NUM("concurrencyLimit", b->concurrency_limit);
  SET_NUM("fdLimitHits", b->fd_limit_hits);
  SET_NUM("portLimitHits", b->port_limit_hits);
#undef SET_NUM
  napi_get_boolean(env, b->done, &tmp);
  napi_set_named_property(env, stats, "done", tmp);
  napi_get_boolean(env, b->need_input, &tmp);
  napi_set_named_property(env, stats, "needInput", tmp);
  if (b->error[0]) {
    napi_create_string_utf8(env, b->error, NAPI_AUTO_LENGTH, &tmp);
    napi_set_named_property(env, stats, "error", tmp);
  }
  argv[0] = buf;
  argv[1] = stats;
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, js_cb, 2, argv, NULL);
out:
  free(b->results);
  free(b);
}

static void engine_free(engine_t *e) {
  free(e->input.items);
  free(e->retry.items);
  free(e->slots);
  free(e->deadlines);
  free(e->map);
  free(e->pending);
  if (e->epfd > 0) close(e->epfd);
  if (e->raw_send_fd > 0) close(e->raw_send_fd);
  if (e->raw_recv_fd > 0) close(e->raw_recv_fd);
  if (e->icmp_fd > 0) close(e->icmp_fd);
  pthread_mutex_destroy(&e->lock);
  pthread_cond_destroy(&e->cond);
  free(e);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  engine_t *e = data;
  if (e->thread_started) pthread_join(e->thread, NULL);
  engine_free(e);
}

static double get_num(napi_env env, napi_value obj, const char *name, double dflt) {
  napi_value v;
  bool has = false;
  napi_valuetype t;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok || !has) return dflt;
  napi_get_named_property(env, obj, name, &v);
  napi_typeof(env, v, &t);
  if (t != napi_number) return dflt;
  double d;
  napi_get_value_double(env, v, &d);
  return d;
}

static engine_t *unwrap(napi_env env, napi_value v) {
  engine_t *e = NULL;
  if (napi_get_value_external(env, v, (void **)&e) != napi_ok) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "expected an engine handle");
    return NULL;
  }
  return e;
}

/* create(options, onBatch) -> handle */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "create(options, onBatch)");
    return NULL;
  }
  engine_t *e = calloc(1, sizeof(engine_t));
  if (!e) {
    napi_throw_error(env, "RINGFENCE_ENGINE", "out of memory");
    return NULL;
  }
  e->kind = get_num(env, argv[0], "syn", 0) != 0 ? KIND_SYN : KIND_CONNECT;
  double conc = get_num(env, argv[0], "concurrency", 1024);
  e->concurrency = conc < 1 ? 1 : conc > 1 << 20 ? 1 << 20 : (uint32_t)conc;
  e->effective_concurrency = e->concurrency;
  e->timeout_ns = (uint64_t)(get_num(env, argv[0], "timeoutMs", 1000) * 1e6);
  e->retries = (uint32_t)get_num(env, argv[0], "retries", 1);
  e->rate = get_num(env, argv[0], "rate", 0);
  e->sport_base = (uint16_t)get_num(env, argv[0], "sourcePortBase", 61000);
  e->secret = (uint32_t)get_num(env, argv[0], "secret", 0x5eed1234);
  e->epfd = e->raw_send_fd = e->raw_recv_fd = e->icmp_fd = -1;
  napi_value nsv;
  bool has = false;
  napi_has_named_property(env, argv[0], "netnsPath", &has);
  if (has) {
    napi_get_named_property(env, argv[0], "netnsPath", &nsv);
    napi_valuetype t;
    napi_typeof(env, nsv, &t);
    if (t == napi_string) {
      size_t len;
      napi_get_value_string_utf8(env, nsv, e->netns_path, sizeof(e->netns_path), &len);
    }
  }
  pthread_mutex_init(&e->lock, NULL);
  pthread_cond_init(&e->cond, NULL);
  e->slots = calloc(e->concurrency, sizeof(slot_t));
  e->deadlines = calloc(e->concurrency, sizeof(deadline_t));
  e->dl_cap = e->concurrency;
  e->pending_cap = 4096;
  e->pending = malloc(e->pending_cap * sizeof(result_t));
  uint32_t map_size = 1;
  while (map_size < e->concurrency * 2u) map_size <<= 1;
  e->map_mask = map_size - 1;
  e->map = e->kind == KIND_SYN ? calloc(map_size, sizeof(uint32_t)) : NULL;
  if (!e->slots || !e->deadlines || !e->pending || (e->kind == KIND_SYN && !e->map)) {
    engine_free(e);
    napi_throw_error(env, "RINGFENCE_ENGINE", "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < e->concurrency; i++) {
    e->slots[i].fd = -1;
    e->slots[i].next_free = i + 1 < e->concurrency ? (int32_t)(i + 1) : -1;
  }
  e->free_head = 0;
  napi_value name;
  napi_create_string_utf8(env, "ringfence-probe-engine", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 64, 1, e, tsfn_finalize, e, call_js,
                                      &e->tsfn) != napi_ok) {
    engine_free(e);
    napi_throw_error(env, "RINGFENCE_ENGINE", "cannot create the result channel");
    return NULL;
  }
  if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
    napi_release_threadsafe_function(e->tsfn, napi_tsfn_abort);
    napi_throw_error(env, "RINGFENCE_ENGINE", "cannot start the probe thread");
    return NULL;
  }
  e->thread_started = 1;
  /* The thread owns the only reference; it is released when the run ends (see js_release). */
  napi_value handle;
  NAPI_OK(napi_create_external(env, e, NULL, NULL, &handle));
  return handle;
}

/* push(handle, Uint32Array addrs, Uint16Array ports, Uint32Array tags) */
static napi_value js_push(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "push(handle, addrs, ports, tags)");
    return NULL;
  }
  engine_t *e = unwrap(env, argv[0]);
  if (!e) return NULL;
  napi_typedarray_type t1, t2, t3;
  size_t n1, n2, n3;
  void *d1, *d2, *d3;
  NAPI_OK(napi_get_typedarray_info(env, argv[1], &t1, &n1, &d1, NULL, NULL));
  NAPI_OK(napi_get_typedarray_info(env, argv[2], &t2, &n2, &d2, NULL, NULL));
  NAPI_OK(napi_get_typedarray_info(env, argv[3], &t3, &n3, &d3, NULL, NULL));
  if (t1 != napi_uint32_array || t2 != napi_uint16_array || t3 != napi_uint32_array || n1 != n2 ||
      n1 != n3) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "push expects Uint32Array, Uint16Array, Uint32Array of one length");
    return NULL;
  }
  const uint32_t *addrs = d1;
  const uint16_t *ports = d2;
  const uint32_t *tags = d3;
  pthread_mutex_lock(&e->lock);
  for (size_t i = 0; i < n1; i++) {
    probe_t p = {.addr = addrs[i], .port = ports[i], .tries = 0, .tag = tags[i]};
    if (queue_push(&e->input, p) != 0) break;
  }
  e->low_signalled = 0;
  pthread_cond_signal(&e->cond);
  pthread_mutex_unlock(&e->lock);
  return NULL;
}

/* The engine handle passed as the only argument of end/cancel/release. */
static engine_t *engine_arg(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "expected an engine handle");
    return NULL;
  }
  return unwrap(env, argv[0]);
}

/* Sets `ended` or `cancelled` under the lock and wakes an idle probe thread. */
static void raise_flag(engine_t *e, volatile int *flag) {
  pthread_mutex_lock(&e->lock);
  *flag = 1;
  pthread_cond_signal(&e->cond);
  pthread_mutex_unlock(&e->lock);
}

/* end(handle): no more targets will be pushed; the thread finishes what is queued. */
static napi_value js_end(napi_env env, napi_callback_info info) {
  engine_t *e = engine_arg(env, info);
  if (e) raise_flag(e, &e->ended);
  return NULL;
}

/* cancel(handle): stop at once; undecided probes are not reported. */
static napi_value js_cancel(napi_env env, napi_callback_info info) {
  engine_t *e = engine_arg(env, info);
  if (e) raise_flag(e, &e->cancelled);
  return NULL;
}

/* release(handle): called by JS after the final (done) batch; lets the process exit. */
static napi_value js_release(napi_env env, napi_callback_info info) {
  engine_t *e = engine_arg(env, info);
  if (e) napi_release_threadsafe_function(e->tsfn, napi_tsfn_release);
  return NULL;
}

/* joinNetns(path): moves the calling (main) thread into a network namespace, so sockets Node
   opens afterwards (UDP probes, the JS engine) live there too. Threads started later inherit it. */
static napi_value js_join_netns(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[256];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok) {
    napi_throw_type_error(env, "RINGFENCE_ENGINE", "joinNetns(path: string)");
    return NULL;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    char msg[400];
    snprintf(msg, sizeof(msg), "cannot enter network namespace %s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    napi_throw_error(env, "RINGFENCE_NEEDS_PRIVILEGE", msg);
    return NULL;
  }
  close(fd);
  return NULL;
}

/* limits() -> { openFilesSoft, openFilesHard, rawSockets } */
static napi_value js_limits(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  napi_value obj, v;
  NAPI_OK(napi_create_object(env, &obj));
  napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? 1e9 : (double)rl.rlim_cur, &v);
  napi_set_named_property(env, obj, "openFilesSoft", v);
  napi_create_double(env, rl.rlim_max == RLIM_INFINITY ? 1e9 : (double)rl.rlim_max, &v);
  napi_set_named_property(env, obj, "openFilesHard", v);
  int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
  napi_get_boolean(env, fd >= 0, &v);
  if (fd >= 0) close(fd);
  napi_set_named_property(env, obj, "rawSockets", v);
  return obj;
}

/* raiseOpenFileLimit(): soft limit up to the hard limit; returns the new soft limit. */
static napi_value js_raise_nofile(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  napi_value v;
  napi_create_double(env, rl.rlim_cur == RLIM_INFINITY ? 1e9 : (double)rl.rlim_cur, &v);
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"push", NULL, js_push, NULL, NULL, NULL, napi_default, NULL},
      {"end", NULL, js_end, NULL, NULL, NULL, napi_default, NULL},
      {"cancel", NULL, js_cancel, NULL, NULL, NULL, napi_default, NULL},
      {"release", NULL, js_release, NULL, NULL, NULL, napi_default, NULL},
      {"joinNetns", NULL, js_join_netns, NULL, NULL, NULL, napi_default, NULL},
      {"limits", NULL, js_limits, NULL, NULL, NULL, napi_default, NULL},
      {"raiseOpenFileLimit", NULL, js_raise_nofile, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
