/*
 * spawnloop: the floor for the runtime benchmarks. It fork+execs N copies of a command
 * (default `sleep 3600`), each in its own process group with stdout and stderr on pipes
 * back to it, the way a supervisor that captures output does, then waits.
 *
 *   spawnloop N [CMD ARG...]      spawn N, then wait for SIGTERM/SIGINT
 *   spawnloop -r N [CMD ARG...]   the same, and respawn every child that dies at once
 *
 * On SIGTERM/SIGINT it SIGKILLs every child it started and exits 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t *pids;
static int *fds; /* two read ends per slot */
static long count;
static volatile sig_atomic_t stop;

static void on_stop(int sig) {
    (void)sig;
    stop = 1;
}

static pid_t spawn_one(char **argv, long slot) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
        perror("pipe2");
        exit(1);
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    if (fds[2 * slot] >= 0) {
        close(fds[2 * slot]);
        close(fds[2 * slot + 1]);
    }
    fds[2 * slot] = out[0];
    fds[2 * slot + 1] = err[0];
    pids[slot] = pid;
    return pid;
}

int main(int argc, char **argv) {
    int respawn = 0;
    int i = 1;
    if (i < argc && strcmp(argv[i], "-r") == 0) {
        respawn = 1;
        i++;
    }
    if (i >= argc) {
        fprintf(stderr, "usage: spawnloop [-r] N [CMD ARG...]\n");
        return 2;
    }
    count = strtol(argv[i++], NULL, 10);
    if (count <= 0) {
        fprintf(stderr, "N must be positive\n");
        return 2;
    }
    static char *dflt[] = {"sleep", "3600", NULL};
    char **cmd = i < argc ? &argv[i] : dflt;

    pids = calloc((size_t)count, sizeof *pids);
    fds = malloc((size_t)count * 2 * sizeof *fds);
    if (!pids || !fds) {
        perror("malloc");
        return 1;
    }
    for (long k = 0; k < 2 * count; k++) fds[k] = -1;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: wait() returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    for (long k = 0; k < count && !stop; k++) spawn_one(cmd, k);

    while (!stop) {
        int status;
        pid_t dead = wait(&status);
        if (dead < 0) {
            if (errno == EINTR) continue;
            pause();
            continue;
        }
        for (long k = 0; k < count; k++) {
            if (pids[k] == dead) {
                pids[k] = 0;
                if (respawn && !stop) spawn_one(cmd, k);
                break;
            }
        }
    }
    for (long k = 0; k < count; k++)
        if (pids[k] > 0) kill(pids[k], SIGKILL);
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return 0;
}
