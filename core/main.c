/* rigelk8s: the command line. `run FILE` runs a user script; every other command is a
 * stock workflow script (scripts/NAME.lua) that parses its own flags. */
#include <stdio.h>
#include <string.h>

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
    "  status | diff | rollback | delete | render | sequence NAME\n"
    "  list [-n NS | -A]       the applications rigelk8s deployed (from their inventories)\n"
    "\n"
    "  rigelk8s COMMAND --help  shows a command's flags.\n"
    "  --version               print the version\n"
    "  --help                  print this help\n"
    "\n"
    "Environment: RIGELK8S_LUA_DIR=lua loads the Lua library from disk instead of the\n"
    "copy compiled into the binary. Exit codes: 0 success, 1 failure, 2 usage or config\n"
    "error, 3 cluster unreachable or auth failed, 4 timeout, 130 interrupted.\n";

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs(usage, stderr);
    return RK_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("rigelk8s %s\n", RK_VERSION);
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
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
  return code;
}
