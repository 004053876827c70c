#!/bin/sh
# slipway-agent package: before removal (deb prerm, rpm %preun, apk
# pre-deinstall). An upgrade keeps the service running until postinstall
# restarts it.
#   deb: remove | upgrade | deconfigure | failed-upgrade
#   rpm: 0 (remove) | 1 (upgrade)     apk: old-version
set -e
# DPKG_ROOT: installing into another root (dpkg --root --force-script-chrootless).
root=${DPKG_ROOT:-}
case "$1" in upgrade | failed-upgrade | 1) exit 0 ;; esac
[ ! -d "$root"/etc/slipway ] || : >"$root"/etc/slipway/.package-removed
if [ -d "$root"/run/systemd/system ]; then
	systemctl disable --now slipway-agent.path slipway-agent.service || true
fi
exit 0
