#!/bin/sh
# Install keyward on Debian or Ubuntu: the binary, the systemd units, the service users and
# the directories with their modes. It never creates or overwrites a secret (master key,
# key store, protection database, token): those are made by `keyward init` run as the
# service user (--network), and existing ones are left as they are. After that init it
# moves the Keymanager token to the gateway's directory; --move-master-key moves the master
# key to the systemd credential the units load (do it after importing keys with the CLI).
# Nothing is moved onto an existing file.
#
#   deploy/install.sh --binary ./keyward                        # two-user layout (default)
#   deploy/install.sh --binary ./keyward --layout single        # one service, user keyward
#   deploy/install.sh --binary ./keyward --network mainnet      # also run keyward init
#   deploy/install.sh --binary ./keyward --move-master-key      # then: key to LoadCredential=
#   deploy/install.sh --binary ./keyward --destdir /tmp/root    # stage into a tree (no users)
#
# Layouts (see docs/operations.md):
#   two-user  keyward-core.socket + keyward-core.service (user keyward-core, no network)
#             keyward-gateway.service (user keyward-gateway); the socket /run/keyward/core.sock
#             is 0660 keyward-core:keyward-link, and keyward-link holds only the two users.
#   single    keyward.service (user keyward) running `keyward run`.
set -eu

usage() {
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
	exit "${1:-2}"
}

binary=""
destdir=""
layout="two-user"
network=""
move_key=no
prefix="/usr/local"
while [ $# -gt 0 ]; do
	case "$1" in
	--binary) binary="$2"; shift 2 ;;
	--destdir) destdir="$2"; shift 2 ;;
	--layout) layout="$2"; shift 2 ;;
	--network) network="$2"; shift 2 ;;
	--move-master-key) move_key=yes; shift ;;
	--prefix) prefix="$2"; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "install.sh: unknown argument $1" >&2; usage 2 ;;
	esac
done

here=$(cd "$(dirname "$0")" && pwd)
[ -n "$binary" ] || { echo "install.sh: --binary PATH is required (go build -o keyward ./cmd/keyward)" >&2; exit 2; }
[ -x "$binary" ] || { echo "install.sh: $binary is not an executable" >&2; exit 1; }
case "$layout" in
two-user) units="keyward-core.socket keyward-core.service keyward-gateway.service"
	core_user="keyward-core"; core_dir="/var/lib/keyward-core"; cred_dir="/etc/keyward/core" ;;
single) units="keyward.service"
	core_user="keyward"; core_dir="/var/lib/keyward"; cred_dir="/etc/keyward" ;;
*) echo "install.sh: --layout is two-user or single" >&2; exit 2 ;;
esac
if [ -z "$destdir" ] && [ "$(id -u)" -ne 0 ]; then
	echo "install.sh: run as root (or stage with --destdir)" >&2
	exit 1
fi

# Users: system users without a login shell or home; the link group holds only the two
# service users, so only they can open the core socket.
add_user() {
	if [ -n "$destdir" ]; then
		echo "install.sh: --destdir: not creating user $1"
		return
	fi
	if ! getent passwd "$1" >/dev/null; then
		adduser --system --group --no-create-home --home /nonexistent --shell /usr/sbin/nologin "$1"
	fi
}
add_to_link_group() {
	[ -z "$destdir" ] || return 0
	getent group keyward-link >/dev/null || addgroup --system keyward-link
	adduser "$1" keyward-link >/dev/null
}
if [ "$layout" = two-user ]; then
	add_user keyward-core
	add_user keyward-gateway
	add_to_link_group keyward-core
	add_to_link_group keyward-gateway
else
	add_user keyward
fi

# chown_to USER PATH: skipped when staging (the users do not exist in the tree).
chown_to() {
	[ -z "$destdir" ] || return 0
	chown "$1:$1" "$2"
}
chown_root() {
	[ -z "$destdir" ] || return 0
	chown root:root "$1"
}

# Binary and units. The units name /usr/local/bin/keyward; another prefix is written in.
install -d -m 0755 "$destdir$prefix/bin" "$destdir/etc/systemd/system" "$destdir/usr/share/doc/keyward"
install -m 0755 "$binary" "$destdir$prefix/bin/keyward"
for u in $units; do
	sed "s#/usr/local/bin/keyward#$prefix/bin/keyward#g" "$here/systemd/$u" >"$destdir/etc/systemd/system/$u.tmp"
	chmod 0644 "$destdir/etc/systemd/system/$u.tmp"
	mv "$destdir/etc/systemd/system/$u.tmp" "$destdir/etc/systemd/system/$u"
done
if [ -f "$here/../docs/operations.md" ]; then
	install -m 0644 "$here/../docs/operations.md" "$destdir/usr/share/doc/keyward/operations.md"
fi

# Directories. /etc/keyward holds the master key given to the core as a systemd
# credential (LoadCredential=): readable by root only, systemd passes it to the service.
# Existing directories keep their content; only their modes are tightened.
install -d -m 0700 "$destdir/etc/keyward"
install -d -m 0700 "$destdir$cred_dir"
install -d -m 0700 "$destdir$core_dir"
chown_to "$core_user" "$destdir$core_dir"
if [ "$layout" = two-user ]; then
	install -d -m 0700 "$destdir/var/lib/keyward-gateway"
	chown_to keyward-gateway "$destdir/var/lib/keyward-gateway"
fi

# keyward init as the core's user, when asked and not done yet (init never overwrites a
# secret; not running it again keeps a moved Keymanager token from being re-created).
if [ -n "$network" ] && [ -e "$destdir$core_dir/keyward.toml" ]; then
	echo "install.sh: $core_dir is already initialized; keyward init not run"
elif [ -n "$network" ]; then
	if [ -n "$destdir" ]; then
		"$destdir$prefix/bin/keyward" init --dir "$destdir$core_dir" --network "$network"
	else
		setpriv --reuid="$core_user" --regid="$core_user" --init-groups \
			"$prefix/bin/keyward" init --dir "$core_dir" --network "$network"
	fi
	# Two users: the gateway reads keyward.toml and the Keymanager token from its own
	# directory; the token moves there (the core never reads it). Nothing is overwritten.
	if [ "$layout" = two-user ]; then
		gw="$destdir/var/lib/keyward-gateway"
		if [ ! -e "$gw/keyward.toml" ]; then
			install -m 0600 "$destdir$core_dir/keyward.toml" "$gw/keyward.toml"
			chown_to keyward-gateway "$gw/keyward.toml"
		fi
		if [ ! -e "$gw/keymanager.token" ] && [ -e "$destdir$core_dir/keymanager.token" ]; then
			mv "$destdir$core_dir/keymanager.token" "$gw/keymanager.token"
			chown_to keyward-gateway "$gw/keymanager.token"
		fi
	fi
fi

# The units give the core its master key as a systemd credential (LoadCredential=), and
# fail to start without the file. --move-master-key moves the key there (root-owned, 0600;
# systemd hands it to the service user at start) and points keyward.toml at the
# credential, only when no credential exists yet. After it, the CLI commands that unseal
# keys no longer find the key outside the service: import keys first, or use the
# Keymanager API while the signer runs.
if [ "$move_key" = yes ]; then
	unit_name=keyward-core.service
	[ "$layout" = two-user ] || unit_name=keyward.service
	if [ -e "$destdir$cred_dir/master.key" ]; then
		echo "install.sh: $cred_dir/master.key exists; nothing moved"
	elif [ ! -e "$destdir$core_dir/master.key" ]; then
		echo "install.sh: no $core_dir/master.key to move (run with --network first)" >&2
		exit 1
	else
		install -m 0600 "$destdir$core_dir/master.key" "$destdir$cred_dir/master.key"
		chown_root "$destdir$cred_dir/master.key"
		sed -i "s#^master_key = 'master.key'\$#master_key = '/run/credentials/$unit_name/master.key'#" "$destdir$core_dir/keyward.toml"
		rm -f "$destdir$core_dir/master.key"
		echo "install.sh: master key moved to $cred_dir/master.key (LoadCredential=); keep an offline copy"
	fi
fi

if [ -z "$destdir" ] && command -v systemctl >/dev/null; then
	systemctl daemon-reload
fi
echo "installed keyward ($layout layout) into ${destdir:-/}"
echo "next: docs/operations.md, 'Install'; then: sudo -u $core_user keyward doctor --dir $core_dir"
