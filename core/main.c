/* rigelk8s: the command line. `run FILE` runs a user script; every other command is a
 * stock workflow script (scripts/NAME.lua) that parses its own flags. */
#undef _POSIX_C_SOURCE
#define _GNU_SOURCE /* fopencookie */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "version.h"

#define RK_EXIT_USAGE 2

/* Runs a stock script (the help and version ones are scripts too: the command table they
 * print is lua/rigelk8s/cli.lua, shared with the man page and the completions). */
static int run_script(const char *name, int argc, char **argv)
{
    rk_host *host = rk_host_new();
    if (!host) {
        fputs("rigelk8s: out of memory\n", stderr);
        return 1;
    }
    int code = rk_host_run_script(host, name, argc, argv);
    rk_host_free(host);
    return code;
}

/* A standard stream started closed (`>&-`) gets /dev/null opened read-only: writes to it
 * then fail (EBADF) and are reported, and no file opened later can take its number and
 * receive the output meant for it. */
static void guard_closed_streams(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int nfd = open("/dev/null", O_RDONLY);
            if (nfd >= 0 && nfd != fd) {
                dup2(nfd, fd);
                close(nfd);
            }
        }
    }
}

/* stdout goes through a cookie stream so that the reason of the first failed write
 * (ENOSPC, EBADF, EIO) is known at exit: stdio keeps only an error flag. */
static int stdout_errno;

static ssize_t stdout_write(void *cookie, const char *buf, size_t n)
{
    (void)cookie;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            if (!stdout_errno)
                stdout_errno = errno;
            return off > 0 ? (ssize_t)off : -1;
        }
        off += (size_t)w;
    }
    return (ssize_t)n;
}

static void track_stdout(void)
{
    cookie_io_functions_t io = {.write = stdout_write};
    FILE *out = fopencookie(NULL, "w", io);
    if (!out)
        return;
    setvbuf(out, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
    stdout = out;
}

/* Output that could not be written is a failure (exit 1), said on stderr, except a
 * reader that went away (`rigelk8s render | head -1`): then we end quietly, by SIGPIPE,
 * like other Unix tools. Returns the exit code. */
static int check_output(int code)
{
    errno = 0;
    int failed = fflush(stdout) != 0 || ferror(stdout);
    int err = stdout_errno ? stdout_errno : errno;
    if (failed && err == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
        return 128 + SIGPIPE;
    }
    if (failed) {
        fprintf(stderr, "rigelk8s: cannot write output: %s\n", err ? strerror(err) : "write error");
        code = 1;
    }
    if (fflush(stderr) != 0 || ferror(stderr)) {
        if (errno == EPIPE) {
            signal(SIGPIPE, SIG_DFL);
            raise(SIGPIPE);
            return 128 + SIGPIPE;
        }
        if (code == 0)
            code = 1;
    }
    return code;
}

static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        char *usage_error[] = {"--usage-error"};
        return run_script("__help", 1, usage_error);
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        if (argc > 2 && (strcmp(argv[2], "-v") == 0 || strcmp(argv[2], "--verbose") == 0))
            return run_script("__version", 0, NULL);
        printf("rigelk8s %s (commit %s)\n", RK_VERSION, rk_git_commit);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return run_script("__help", 0, NULL);
    if (strcmp(cmd, "run") == 0) {
        if (argc < 3) {
            fputs("rigelk8s: run needs a script: rigelk8s run FILE.lua [ARGS...]\n", stderr);
            return RK_EXIT_USAGE;
        }
    } else if (cmd[0] == '-' || !rk_host_has_script(cmd)) {
        fprintf(stderr, "rigelk8s: unknown command '%s'; see rigelk8s --help\n", cmd);
        return RK_EXIT_USAGE;
    }
    rk_host *host = rk_host_new();
    if (!host) {
        fputs("rigelk8s: out of memory\n", stderr);
        return 1;
    }
    int code = strcmp(cmd, "run") == 0 ? rk_host_run_file(host, argv[2], argc - 3, argv + 3)
                                       : rk_host_run_script(host, cmd, argc - 2, argv + 2);
    rk_host_free(host);
    return code;
}

int main(int argc, char **argv)
{
    guard_closed_streams();
    track_stdout();
    return check_output(run_command(argc, argv));
}
