#!/bin/sh
# Removes the Slipway agent's launchd daemon and binary (run as root).
# --purge also deletes "/Library/Application Support/Slipway" (agent.json
# and the machine's token). DESTDIR and LAUNCHCTL: as in install.sh.
set -eu
root=${DESTDIR:-}
label=slipway-agent

launchd() {
	if [ -z "$root" ] || [ -n "${LAUNCHCTL:-}" ]; then
		"${LAUNCHCTL:-launchctl}" "$@"
	fi
}

if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
	echo "uninstall.sh: run as root (sudo)" >&2
	exit 1
fi
launchd bootout "system/$label" 2>/dev/null || true
rm -f "$root/Library/LaunchDaemons/$label.plist" "$root/usr/local/bin/slipway-agent"
if [ "${1:-}" = --purge ]; then
	rm -rf "$root/Library/Application Support/Slipway"
fi
echo "slipway-agent removed"
