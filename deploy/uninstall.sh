#!/bin/sh
# Remove what deploy/install.sh installed: the units and the binary. State directories
# (keys, slashing protection), /etc/keyward (the master key) and the users are kept: a
# protection database must never be lost while its keys may sign elsewhere. The paths are
# printed so an operator can archive them deliberately.
#
#   deploy/uninstall.sh                      # stop, disable, remove units and binary
#   deploy/uninstall.sh --remove-users       # also remove the service users and group
#   deploy/uninstall.sh --destdir /tmp/root  # remove from a staged tree
set -eu

destdir=""
prefix="/usr/local"
remove_users=no
while [ $# -gt 0 ]; do
	case "$1" in
	--destdir) destdir="$2"; shift 2 ;;
	--prefix) prefix="$2"; shift 2 ;;
	--remove-users) remove_users=yes; shift ;;
	-h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "uninstall.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
	echo "uninstall.sh: run as root (or use --destdir)" >&2
	exit 1
fi

units="keyward-gateway.service keyward-core.service keyward-core.socket keyward.service"
if [ -z "$destdir" ] && command -v systemctl >/dev/null; then
	for u in $units; do
		systemctl disable --now "$u" 2>/dev/null || true
	done
fi
for u in $units; do
	rm -f "$destdir/etc/systemd/system/$u"
done
rm -f "$destdir$prefix/bin/keyward"
rm -rf "$destdir/usr/share/doc/keyward"
if [ -z "$destdir" ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload
fi

if [ "$remove_users" = yes ] && [ -z "$destdir" ]; then
	for u in keyward-gateway keyward-core keyward; do
		if getent passwd "$u" >/dev/null; then deluser --system "$u"; fi
	done
	if getent group keyward-link >/dev/null; then delgroup --system keyward-link; fi
fi

echo "kept (keys, slashing protection, master key; archive or delete deliberately):"
for d in /var/lib/keyward-core /var/lib/keyward-gateway /var/lib/keyward /etc/keyward; do
	if [ -e "$destdir$d" ]; then echo "  $destdir$d"; fi
done
