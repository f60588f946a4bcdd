# `make deb`: a Debian package built by CPack from the same install rules as `make install`
# (so the two cannot drift), with Depends computed by dpkg-shlibdeps from the libraries the
# binary and the plugin actually link.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME rigelk8s)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "rigelk8s maintainers <rigelk8s@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "deploy ROS applications to Kubernetes from a Rigelfile")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "deploy ROS applications to Kubernetes from a Rigelfile\n rigelk8s renders a Rigelfile's orchestration job into Kubernetes objects (a ROS\n master, the application, storage, observability), applies them with server-side\n apply and follows the rollout until the ROS graph is up. Its workflows are Lua\n scripts compiled into the binary, which users can extend or replace.")
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
include(CPack)
