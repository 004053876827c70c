#!/bin/sh
# slipway-agent package: after removal (deb postrm, rpm %postun, apk
# post-deinstall). The machine token and agent.env stay in /etc/slipway
# unless the package is purged (deb) so a reinstall keeps the machine's
# identity; `rm -rf /etc/slipway` forgets it.
set -e
# DPKG_ROOT: installing into another root (dpkg --root --force-script-chrootless).
root=${DPKG_ROOT:-}
if [ "$1" = purge ]; then
	rm -f "$root"/etc/slipway/.package-removed "$root"/etc/slipway/machine.json "$root"/etc/slipway/agent.env "$root"/etc/slipway/agent.json
	rm -rf "$root"/etc/slipway/update/state
	rmdir "$root"/etc/slipway/update "$root"/etc/slipway 2>/dev/null || true
fi
if [ -d "$root"/run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
