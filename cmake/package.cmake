# `make deb`: a Debian package built by CPack from the same install rules as `make install`
# (so the two cannot drift), with Depends computed by dpkg-shlibdeps from the libraries the
# binary and the plugin actually link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rigelk8s)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})  # make deb configures /usr
set(RK_DEB_MAINTAINER "rigelk8s maintainers <rigelk8s@example.org>" CACHE STRING
    "Maintainer field of the Debian package")
set(CPACK_PACKAGE_CONTACT "${RK_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deploy ROS applications to Kubernetes from a Rigelfile")
set(CPACK_PACKAGE_DESCRIPTION
    "rigelk8s renders the orchestration job of a Rigelfile into Kubernetes objects\n"
    "(a ROS master, the application, storage, observability), applies them with\n"
    "server-side apply and follows the rollout until the ROS graph is up. Its\n"
    "workflows are Lua scripts compiled into the binary, which users can extend or\n"
    "replace.")
string(CONCAT CPACK_PACKAGE_DESCRIPTION ${CPACK_PACKAGE_DESCRIPTION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)          # rigelk8s_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/rigel-ros/rigel")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Directories owned by the system (/usr, /usr/bin, ...) are not listed in the package.
set(CPACK_STRIP_FILES ON)
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
# A Debian package carries its changelog (a native package: changelog.gz). Dated with
# the commit's date, not the build's, so that two builds of one commit are the same.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  execute_process(COMMAND git -C ${CMAKE_SOURCE_DIR} log -1 --format=%cD
                  OUTPUT_VARIABLE rk_date RESULT_VARIABLE rc ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0 OR rk_date STREQUAL "")
    set(rk_date "Mon, 07 Dec 2026 00:00:00 +0000")
  endif()
  file(WRITE ${CMAKE_BINARY_DIR}/share/changelog
       "rigelk8s (${PROJECT_VERSION}) unstable; urgency=medium\n\n"
       "  * Built from ${CMAKE_SOURCE_DIR} by make deb; see the README for changes.\n\n"
       " -- ${RK_DEB_MAINTAINER}  ${rk_date}\n")
  execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/share/changelog)
  install(FILES ${CMAKE_BINARY_DIR}/share/changelog.gz DESTINATION share/doc/rigelk8s)
endif()
include(CPack)
