/* main.c -- juggernaut-poller: command line, daemon mode, pidfile, signals;
 * the work itself is poller/loop.c, turned here in one thread.
 *
 * SIGTERM and SIGINT stop it cleanly (lease released, pidfile removed);
 * SIGHUP reopens a log file. */
#include "autoconfig.h"
#include "config.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "juggernaut-poller"


static volatile sig_atomic_t stopSignal;
static volatile sig_atomic_t hangups;   /* SIGHUPs seen, for the log line */

static void onSignal(int sig) {
    stopSignal = sig;
}

/* SIGHUP: reopen the log file for logrotate (async-signal-safe). */
static void onHangup(int sig) {
    (void)sig;
    jugLogReopen();
    hangups++;
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


static int run(jugPollerLoop *p, const jugConfig *cfg, const char *id) {
    jugPollerLoopInit(p, cfg, id);
    sig_atomic_t logged_hangups = 0;
    while (!stopSignal) {
        jugPollerLoopStep(p);
        if (hangups != logged_hangups) {
            logged_hangups = hangups;
            jugLog(JUG_LOG_INFO, "SIGHUP: log reopened");
        }
    }
    jugLog(JUG_LOG_INFO, "stopping on signal %d", (int)stopSignal);
    jugPollerLoopFinish(p);
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

    static jugConfig cfg;
    static jugPollerLoop p;
    char err[JUG_CONFIG_ERRLEN + 64];
    if (jugConfigLoad(&cfg, config, JUG_SYSCONFDIR "/juggernaut.conf", err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
    }
    if (jugLogInit(PROGRAM, cfg.log, cfg.log_level, err, sizeof(err)) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err);
        return 1;
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

    /* -d closes stderr: a poller started from cron would log into the void.
     * Said only when one starts: cron would mail it every minute. */
    if (daemon_mode && !strcmp(cfg.log, "stderr")) {
        fprintf(stderr, PROGRAM ": warning: -d closes stderr, where \"log stderr\" would send the logs;"
                        " logging to syslog instead (set log to syslog or a file path in the"
                        " configuration to choose)\n");
        jugLogInit(PROGRAM, "syslog", cfg.log_level, err, sizeof(err));
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
    char name[128];
    jugPollerMakeId(name, sizeof(name), id);
    signalReady(ready, 1);

    int rc = run(&p, &cfg, name);
    if (pidfile) removePidfile(pidfile);
    return rc;
}
