/* rigelk8s: the command line. `run FILE` runs a user script; every other command is a
 * stock workflow script (scripts/NAME.lua) that parses its own flags. */
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "version.h"

#define RK_EXIT_USAGE 2

/* Runs a stock script (the help and version ones are scripts too: the command table they
 * print is lua/rigelk8s/cli.lua, shared with the man page and the completions). */
static int run_script(const char *name, int argc, char **argv) {
  rk_host *host = rk_host_new();
  if (!host) {
    fputs("rigelk8s: out of memory\n", stderr);
    return 1;
  }
  int code = rk_host_run_script(host, name, argc, argv);
  rk_host_free(host);
  return code;
}

int main(int argc, char **argv) {
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
  int code = strcmp(cmd, "run") == 0
                 ? rk_host_run_file(host, argv[2], argc - 3, argv + 3)
                 : rk_host_run_script(host, cmd, argc - 2, argv + 2);
  rk_host_free(host);
  return code;
}
