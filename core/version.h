/* version.h — what this build is: the release (RK_VERSION, from CMakeLists.txt) and the
 * git commit it was built from (`git describe --always --dirty`, "unknown" outside git). */
#ifndef RK_VERSION_H
#define RK_VERSION_H

/* Written at every build by cmake/version.cmake (build/rk_commit.c). */
extern const char rk_git_commit[];

#endif
