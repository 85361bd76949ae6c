# jug_pkg.m4 -- JUG_PKG_REQUIRE: a pkg-config library check whose error
# names the real problem (not installed, or installed but too old, with the
# version found) and the Debian package that fixes it.

# JUG_PKG_REQUIRE(VARIABLE-PREFIX, MODULE, MIN-VERSION, WHAT, DEBIAN-PACKAGE)
# Sets VARIABLE-PREFIX_CFLAGS and VARIABLE-PREFIX_LIBS like PKG_CHECK_MODULES.
AC_DEFUN([JUG_PKG_REQUIRE], [
  PKG_CHECK_MODULES([$1], [$2 >= $3], [], [
    AS_IF([$PKG_CONFIG --exists '$2'], [
      jug_pkg_found=`$PKG_CONFIG --modversion '$2' 2>/dev/null`
      AC_MSG_ERROR([$4 $jug_pkg_found is too old: $3 or newer is needed (Debian package $5)])
    ], [
      AC_MSG_ERROR([$4 not found (pkg-config module $2): apt-get install $5])
    ])
  ])
])
