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

#define RK_EXIT_USAGE 2

static const char usage[] =
    "usage: rigelk8s COMMAND [ARGS...]\n"
    "\n"
    "Deploy ROS applications to Kubernetes. Commands:\n"
    "  run FILE.lua [ARGS...]  run a Lua script (FILE '-' reads standard input)\n"
    "  deploy                  render, apply and wait for the Rigelfile's application\n"
    "  update                  roll out a changed Rigelfile or --image\n"
    "  distributed             deploy distributed components in dependency order\n"
    "  status | diff | rollback | delete | render | results | sequence NAME\n"
    "  list [-n NS | -A]       the applications rigelk8s deployed (from their inventories)\n"
    "\n"
    "  rigelk8s COMMAND --help  shows a command's flags.\n"
    "  --version               print the version\n"
    "  --help                  print this help\n"
    "\n"
    "Environment: RIGELK8S_LUA_DIR=lua loads the Lua library from disk instead of the\n"
    "copy compiled into the binary. Exit codes: 0 success, 1 failure, 2 usage or config\n"
    "error, 3 cluster unreachable or auth failed, 4 timeout, 130 interrupted.\n";

/* A standard stream started closed (`>&-`) gets /dev/null opened read-only: writes to it
 * then fail (EBADF) and are reported, and no file opened later can take its number and
 * receive the output meant for it. */
static void guard_closed_streams(void) {
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

static ssize_t stdout_write(void *cookie, const char *buf, size_t n) {
  (void)cookie;
  size_t off = 0;
  while (off < n) {
    ssize_t w = write(STDOUT_FILENO, buf + off, n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      if (!stdout_errno) stdout_errno = errno;
      return off > 0 ? (ssize_t)off : -1;
    }
    off += (size_t)w;
  }
  return (ssize_t)n;
}

static void track_stdout(void) {
  cookie_io_functions_t io = {.write = stdout_write};
  FILE *out = fopencookie(NULL, "w", io);
  if (!out) return;
  setvbuf(out, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
  stdout = out;
}

/* Output that could not be written is a failure (exit 1), said on stderr, except a
 * reader that went away (`rigelk8s render | head -1`): then we end quietly, by SIGPIPE,
 * like other Unix tools. Returns the exit code. */
static int check_output(int code) {
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
    if (code == 0) code = 1;
  }
  return code;
}

int main(int argc, char **argv) {
  guard_closed_streams();
  track_stdout();
  if (argc < 2) {
    fputs(usage, stderr);
    return RK_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("rigelk8s %s\n", RK_VERSION);
    return check_output(0);
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return check_output(0);
  }
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
  int code = strcmp(cmd, "run") == 0
                 ? rk_host_run_file(host, argv[2], argc - 3, argv + 3)
                 : rk_host_run_script(host, cmd, argc - 2, argv + 2);
  rk_host_free(host);
  return check_output(code);
}
