#!/bin/sh
# slipway-agent package: after install or upgrade (deb postinst, rpm %post,
# apk post-install and post-upgrade).
#   deb: configure [old-version]   rpm: 1 (install) | 2 (upgrade)
#   apk: new-version [old-version]
set -e
# DPKG_ROOT: installing into another root (dpkg --root --force-script-chrootless).
root=${DPKG_ROOT:-}
mode=install
if [ "$1" = 2 ] || { [ "$1" != 1 ] && [ -n "${2:-}" ]; }; then
	mode=upgrade
fi
case "$1" in abort-*) mode=upgrade ;; esac
# Reinstalled after a removal that kept /etc/slipway (deb "remove" without
# purge passes the old version too): enable the units again.
if [ -e "$root"/etc/slipway/.package-removed ]; then
	mode=install
	rm -f "$root"/etc/slipway/.package-removed
fi

mkdir -p "$root"/etc/slipway
chmod 0700 "$root"/etc/slipway
[ ! -f "$root"/etc/slipway/agent.env ] || chmod 0600 "$root"/etc/slipway/agent.env

if [ ! -d "$root"/run/systemd/system ]; then
	echo "slipway-agent: systemd is not running; start '/usr/bin/slipway-agent run' with your init system" >&2
	exit 0
fi
systemctl daemon-reload || true
if [ "$mode" = install ]; then
	# The path unit starts the agent as soon as /etc/slipway/agent.env or
	# agent.json exists (now, or when an MDM drops it later).
	systemctl enable slipway-agent.service slipway-agent.path || true
	systemctl start slipway-agent.path || true
else
	systemctl try-restart slipway-agent.service || true
fi
exit 0
