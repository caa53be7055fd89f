# Included by dist/CMakeLists.txt's install(CODE) at install time, when CMAKE_INSTALL_PREFIX is the
# prefix being installed to (cmake --install --prefix, or /usr under cpack). SP_* come from there.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(SP_SYSCONFDIR /etc)   # GNUInstallDirs' rule: /usr's configuration lives in /etc
else()
  set(SP_SYSCONFDIR ${CMAKE_INSTALL_PREFIX}/etc)
endif()
set(SP_BINDIR ${CMAKE_INSTALL_PREFIX}/${SP_BINDIR_REL})
configure_file(${SP_DIST_SOURCE}/spliceproxy.service.in ${SP_DIST_BINARY}/spliceproxy.service @ONLY)
file(INSTALL ${SP_DIST_BINARY}/spliceproxy.service DESTINATION ${CMAKE_INSTALL_PREFIX}/${SP_UNIT_DIR_REL})
# The flags file is the operator's once written: a later `cmake --install` leaves it alone (the .deb
# marks it a conffile, so dpkg does the same).
if(EXISTS "$ENV{DESTDIR}${SP_SYSCONFDIR}/default/spliceproxy")
  message(STATUS "Kept: $ENV{DESTDIR}${SP_SYSCONFDIR}/default/spliceproxy (already there)")
else()
  file(INSTALL ${SP_DIST_SOURCE}/spliceproxy.default DESTINATION ${SP_SYSCONFDIR}/default RENAME spliceproxy)
endif()
