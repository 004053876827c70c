#!/bin/sh
# Installs or upgrades the Slipway agent as a launchd daemon on macOS.
# Run as root from the unpacked archive (an MDM runs it as a script):
#
#   sudo SLIPWAY_SERVER=https://slipway.example.com \
#        SLIPWAY_PROVISIONING_SECRET=... ./install.sh
#
# Installs /usr/local/bin/slipway-agent and
# /Library/LaunchDaemons/slipway-agent.plist, writes
# "/Library/Application Support/Slipway/agent.json" (mode 0600) from
# SLIPWAY_SERVER and SLIPWAY_PROVISIONING_SECRET when it does not exist yet
# (an MDM may drop that file itself instead), and (re)starts the daemon,
# which enrolls on its first start.
#
# DESTDIR installs into another root without touching launchd (unless
# LAUNCHCTL names a launchctl to run); used by the tests.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=${DESTDIR:-}
label=slipway-agent
bin=/usr/local/bin/slipway-agent
plist=/Library/LaunchDaemons/$label.plist
conf="/Library/Application Support/Slipway"

launchd() {
	if [ -z "$root" ] || [ -n "${LAUNCHCTL:-}" ]; then
		"${LAUNCHCTL:-launchctl}" "$@"
	fi
}

if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: run as root (sudo)" >&2
	exit 1
fi
server=${SLIPWAY_SERVER:-}
secret=${SLIPWAY_PROVISIONING_SECRET:-}
for v in "$server" "$secret"; do
	case $v in
	*'"'* | *'\'* | *"$(printf '\t')"* | *'
'*)
		echo "install.sh: SLIPWAY_SERVER and SLIPWAY_PROVISIONING_SECRET may not contain quotes, backslashes, tabs or newlines" >&2
		exit 2
		;;
	esac
done

# Upgrade: stop the running daemon before replacing its binary.
launchd bootout "system/$label" 2>/dev/null || true

mkdir -p "$root/usr/local/bin" "$root/Library/LaunchDaemons" "$root$conf"
chmod 0700 "$root$conf"
cp "$here/slipway-agent" "$root$bin.new"
chmod 0755 "$root$bin.new"
mv -f "$root$bin.new" "$root$bin"
cp "$here/$label.plist" "$root$plist.new"
chmod 0644 "$root$plist.new"
[ -n "$root" ] || chown root:wheel "$root$plist.new" "$root$bin"
mv -f "$root$plist.new" "$root$plist"

if [ ! -e "$root$conf/agent.json" ] && [ -n "$server" ]; then
	(
		umask 077
		printf '{"server": "%s", "provisioningSecret": "%s"}\n' "$server" "$secret" >"$root$conf/agent.json.new"
	)
	mv -f "$root$conf/agent.json.new" "$root$conf/agent.json"
fi

launchd bootstrap system "$plist"
launchd enable "system/$label"
echo "slipway-agent installed; it enrolls on its first start (logs: /var/log/slipway-agent.err.log)"
