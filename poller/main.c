/* main.c -- juggernaut-poller: command line, daemon mode, pidfile, signals
 * and the main loop that ties the subscriber, fan-out, lease and reaper
 * together.
 *
 * One thread. poll() on the pub/sub socket wakes the loop for messages and
 * times out for the lease and reaper timers; while Redis is away the loop
 * sleeps between reconnect attempts (100 ms doubling to 5 s). */
#include "autoconfig.h"
#include "config.h"
#include "fanout.h"
#include "leader.h"
#include "log.h"
#include "reaper.h"
#include "redis.h"
#include "sid.h"
#include "subscriber.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROGRAM "juggernaut-poller"
#define COMMAND_TIMEOUT_MS 5000
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define REAP_INTERVAL_MS 1000

typedef struct poller {
    jugConfig cfg;
    char id[128];
    jugSubscriber sub;
    redisContext *cmd;         /* scripts: fan-out, lease, reap */
    jugLeader leader;
    int connected;
    int lost;                  /* set mid-loop; the connections close after it */
    int attempts;              /* failed reconnect attempts since the loss */
    int backoff_ms;
    int ever_connected;
    long long next_connect, next_lease, next_reap;
} poller;

static volatile sig_atomic_t stopSignal;

static void onSignal(int sig) {
    stopSignal = sig;
}

/* SIGHUP: reopen the log file for logrotate (async-signal-safe). */
static void onHangup(int sig) {
    (void)sig;
    jugLogReopen();
}

static long long nowMs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out) {
    fprintf(out,
            "Usage: " PROGRAM " [-c FILE] [-d|--daemon] [-p|--pidfile FILE] [-i|--id NAME]\n"
            "       " PROGRAM " -h|--help | -V|--version\n"
            "\n"
            "Subscribes to the Redis pub/sub channel apps publish Juggernaut messages to\n"
            "and pushes each message onto the queues of the subscribed browser sessions.\n"
            "\n"
            "  -c, --config FILE    configuration (default $JUGGERNAUT_CONFIG, else\n"
            "                       " JUG_SYSCONFDIR "/juggernaut.conf)\n"
            "  -d, --daemon         run in the background\n"
            "  -p, --pidfile FILE   write the process id to FILE\n"
            "  -i, --id NAME        poller id for the lease (default host:pid:random)\n"
            "  -h, --help           show this help\n"
            "  -V, --version        show the version\n");
}

/* ---- process setup ---- */

static int installSignals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = onSignal; /* no SA_RESTART: poll() must return at once */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) return -1;
    sa.sa_handler = onHangup;
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGHUP, &sa, NULL) < 0) return -1;
    sa.sa_handler = SIG_IGN;  /* a dead Redis socket must not kill us */
    return sigaction(SIGPIPE, &sa, NULL);
}

/* Fork into the background. The parent waits until the child has written its
 * pidfile, so whoever started us can read it as soon as we return. Returns
 * the write end of that pipe in the child (closed by signalReady). */
static int daemonize(void) {
    int ready[2];
    if (pipe(ready) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid > 0) {
        char byte = 0;
        close(ready[1]);
        ssize_t n;
        do n = read(ready[0], &byte, 1); while (n < 0 && errno == EINTR);
        _exit(n == 1 && byte == 'y' ? 0 : 1);
    }
    close(ready[0]);
    if (setsid() < 0) return -1;
    int null = open("/dev/null", O_RDWR);
    if (null < 0) return -1;
    if (chdir("/") < 0) { /* keep going: only a busy mount point is at stake */ }
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (null > STDERR_FILENO) close(null);
    return ready[1];
}

/* stderr goes to /dev/null only once the pidfile is there, so a failure to
 * write it is still reported. */
static void signalReady(int fd, int ok) {
    if (fd < 0) return;
    if (ok) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDERR_FILENO);
            if (null > STDERR_FILENO) close(null);
        }
    }
    char byte = ok ? 'y' : 'n';
    if (write(fd, &byte, 1) < 0) { /* the parent is gone: nothing to tell */ }
    close(fd);
}

static int writePidfile(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f);
}

/* The pid in path if it names a running juggernaut-poller, else 0. Lets a
 * cron line start the poller every minute without starting a second one;
 * /proc/<pid>/comm guards against a stale pidfile whose pid was reused. */
static int runningPoller(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int pid = 0;
    int found = fscanf(f, "%d", &pid) == 1;
    fclose(f);
    if (!found || pid <= 0 || pid == (int)getpid()) return 0;
    if (kill(pid, 0) < 0 && errno != EPERM) return 0;
    char comm_path[64], comm[32] = "";
    snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", pid);
    FILE *c = fopen(comm_path, "r");
    if (c) {
        if (!fgets(comm, sizeof(comm), c)) comm[0] = '\0';
        fclose(c);
    }
    /* the kernel keeps 15 bytes of the name: "juggernaut-poll" */
    return strncmp(comm, "juggernaut-poll", 15) == 0 ? pid : 0;
}

/* Remove the pidfile only if it is still ours. */
static void removePidfile(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return;
    int pid = 0;
    if (fscanf(f, "%d", &pid) == 1 && pid == (int)getpid()) unlink(path);
    fclose(f);
}

/* "<hostname>:<pid>:<random>" unless given. */
static void makeId(char *out, size_t outlen, const char *given) {
    if (given) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    char host[64] = "localhost", rnd[JUG_SID_LEN + 1] = "00000000";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    jugSidGenerate(rnd);
    snprintf(out, outlen, "%s:%d:%.8s", host, (int)getpid(), rnd);
}

/* ---- connections ---- */

static void closeConnections(poller *p) {
    jugSubscriberClose(&p->sub);
    if (p->cmd) redisFree(p->cmd);
    p->cmd = NULL;
    p->connected = 0;
}

/* Drop both connections after a failure and schedule the first retry. */
static void connectionLost(poller *p, const char *why) {
    char reason[256];
    snprintf(reason, sizeof(reason), "%s", why);   /* why may be a context's errstr */
    closeConnections(p);
    jugLeaderLost(&p->leader);
    p->lost = 0;
    p->attempts = 0;
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs() + p->backoff_ms;
    jugLog(JUG_LOG_WARNING, "lost connection to Redis: %s; reconnecting", reason);
}

static void tryConnect(poller *p) {
    char err[256];
    p->cmd = jugRedisConnect(&p->cfg.redis, COMMAND_TIMEOUT_MS, err, sizeof(err));
    if (p->cmd && jugSubscriberConnect(&p->sub, &p->cfg, err, sizeof(err)) == 0) {
        p->connected = 1;
        long long now = nowMs();
        p->next_lease = now;  /* take or check the lease before anything else */
        p->next_reap = now + REAP_INTERVAL_MS;
        if (p->ever_connected)
            jugLog(JUG_LOG_INFO, "reconnected, resubscribed to %s%s%s after %d attempt(s)",
                   p->cfg.channel, p->cfg.jugglite_namespace[0] ? " and Jugglite " : "",
                   p->cfg.jugglite_namespace, p->attempts + 1);
        else
            jugLog(JUG_LOG_INFO, "subscribed to %s%s%s as poller %s", p->cfg.channel,
                   p->cfg.jugglite_namespace[0] ? " and Jugglite " : "", p->cfg.jugglite_namespace,
                   p->id);
        p->ever_connected = 1;
        return;
    }
    closeConnections(p);
    if (p->attempts++ == 0 && !p->ever_connected)
        jugLog(JUG_LOG_WARNING, "cannot connect to Redis: %s; retrying", err);
    else
        jugLog(JUG_LOG_DEBUG, "reconnect attempt %d failed: %s", p->attempts, err);
    p->next_connect = nowMs() + p->backoff_ms;
    p->backoff_ms = p->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : p->backoff_ms * 2;
}

/* ---- work ---- */

/* Lease every poller_lease_ms/3, reaper every second (active poller only). */
static void serviceTimers(poller *p) {
    long long now = nowMs();
    if (p->lost || !p->connected) return;
    if (now >= p->next_lease) {
        p->next_lease = now + p->cfg.poller_lease_ms / 3;
        if (jugLeaderTick(&p->leader, p->cmd, now) < 0) {
            p->lost = 1;
            return;
        }
    }
    if (now >= p->next_reap) {
        p->next_reap = now + REAP_INTERVAL_MS;
        if (p->leader.active && jugReaperRun(p->cmd, &p->cfg) < 0) p->lost = 1;
    }
}

static void onMessage(void *ctx, const char *channel, const char *payload, size_t len) {
    poller *p = ctx;
    char hash[JUG_HASH_LEN + 1];
    jugFanoutHash(hash, channel, payload, len);
    jugLeaderRemember(&p->leader, channel, payload, len, hash, nowMs());
    if (p->lost) return; /* kept: delivered on resync after the reconnect */
    if (jugLeaderDeliverLatest(&p->leader, p->cmd) < 0) p->lost = 1;
    serviceTimers(p); /* a long burst must not let the lease lapse */
}

static int msUntil(long long when, long long now) {
    long long d = when - now;
    return d < 0 ? 0 : d > 1000 ? 1000 : (int)d;
}

/* One turn of the loop: connect, wait, read, keep timers. */
static void step(poller *p) {
    char err[256];
    if (!p->connected) {
        long long now = nowMs();
        if (now < p->next_connect) {
            poll(NULL, 0, msUntil(p->next_connect, now));
            return;
        }
        tryConnect(p);
        if (!p->connected) return;
    }
    serviceTimers(p);
    if (!p->lost) {
        long long now = nowMs();
        long long next = p->next_lease < p->next_reap ? p->next_lease : p->next_reap;
        struct pollfd pfd = {jugSubscriberFd(&p->sub), POLLIN, 0};
        int n = poll(&pfd, 1, msUntil(next, now));
        if (n > 0 && jugSubscriberRead(&p->sub, onMessage, p, err, sizeof(err)) < 0) {
            connectionLost(p, err);
            return;
        }
    }
    if (p->lost)
        connectionLost(p, p->cmd && p->cmd->err ? p->cmd->errstr : "command connection failed");
}

static int run(poller *p) {
    jugLeaderInit(&p->leader, &p->cfg, p->id);
    p->backoff_ms = BACKOFF_FIRST_MS;
    p->next_connect = nowMs();
    while (!stopSignal) step(p);
    jugLog(JUG_LOG_INFO, "stopping on signal %d", (int)stopSignal);
    closeConnections(p);
    jugLeaderFree(&p->leader);
    return 0;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"daemon", no_argument, NULL, 'd'},
        {"pidfile", required_argument, NULL, 'p'}, {"id", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},          {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *pidfile = NULL, *id = NULL;
    int daemon_mode = 0, opt;
    while ((opt = getopt_long(argc, argv, "c:dp:i:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'd': daemon_mode = 1; break;
        case 'p': pidfile = optarg; break;
        case 'i': id = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf(PROGRAM " " PACKAGE_VERSION "\n"); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, PROGRAM ": unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (id && (!*id || strlen(id) >= 128)) {
        fprintf(stderr, PROGRAM ": --id must be 1 to 127 bytes\n");
        return 2;
    }

    static poller p;
    char err[JUG_CONFIG_ERRLEN + 64];
    if (jugConfigLoad(&p.cfg, config, JUG_SYSCONFDIR "/juggernaut.conf", err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
    }
    if (jugLogInit(PROGRAM, p.cfg.log, p.cfg.log_level, err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
    }
    /* -d closes stderr: a poller started from cron would log into the void. */
    if (daemon_mode && !strcmp(p.cfg.log, "stderr")) {
        fprintf(stderr, PROGRAM ": warning: -d closes stderr, where \"log stderr\" would send the logs;"
                        " logging to syslog instead (set log to syslog or a file path in the"
                        " configuration to choose)\n");
        jugLogInit(PROGRAM, "syslog", p.cfg.log_level, err, sizeof(err));
    }

    /* The pidfile path must survive the chdir("/") of daemon mode. */
    char pidpath[PATH_MAX];
    if (pidfile && pidfile[0] != '/') {
        char cwd[PATH_MAX - 256];
        if (!getcwd(cwd, sizeof(cwd))) {
            jugLog(JUG_LOG_ERROR, "cannot resolve pidfile path: %s", strerror(errno));
            return 1;
        }
        snprintf(pidpath, sizeof(pidpath), "%s/%.255s", cwd, pidfile);
        pidfile = pidpath;
    }

    int running = pidfile ? runningPoller(pidfile) : 0;
    if (running) {
        jugLog(JUG_LOG_DEBUG, "already running as pid %d (%s): nothing to do", running, pidfile);
        return 0;
    }

    int ready = -1;
    if (daemon_mode && (ready = daemonize()) < 0) {
        jugLog(JUG_LOG_ERROR, "cannot run as a daemon: %s", strerror(errno));
        return 1;
    }
    if (pidfile && writePidfile(pidfile) < 0) {
        jugLog(JUG_LOG_ERROR, "cannot write pidfile %s: %s", pidfile, strerror(errno));
        signalReady(ready, 0);
        return 1;
    }
    if (installSignals() < 0) {
        jugLog(JUG_LOG_ERROR, "cannot install signal handlers: %s", strerror(errno));
        if (pidfile) removePidfile(pidfile);
        signalReady(ready, 0);
        return 1;
    }
    makeId(p.id, sizeof(p.id), id);
    signalReady(ready, 1);

    int rc = run(&p);
    if (pidfile) removePidfile(pidfile);
    return rc;
}
