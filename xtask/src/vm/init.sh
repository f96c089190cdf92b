#!/bin/sh
# /init of the `cargo xtask vm-test` guest (busybox sh, pid 1): mount what a
# host has, with the cgroup layout the kernel command line asks for
# (tdmode=v2|v1|hybrid), load the runtime's modules, run the suite
# (/vm/guest), power off. The suite prints the verdict line; a guest that
# dies before it is a failure on the host's side.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C

fail() {
	echo "TDVM-ERROR: $*"
	poweroff -f
	exit 1
}

if [ "$1" != stage2 ]; then
	mount -t proc proc /proc || fail "mount /proc"
	if grep -q tdprobe /proc/cmdline; then
		echo "TDVM-PROBE-OK"
		poweroff -f
	fi
	umount /proc
	# pivot_root(2) refuses a root that is the initial rootfs, and
	# tinydocker pivots into every container: go on from a bind mount of
	# it, as a real root filesystem would be.
	mkdir -p /newroot
	mount --bind / /newroot || fail "bind mount /"
	cd /newroot || fail "cd /newroot"
	mount --move . / || fail "move the root"
	exec chroot . /init stage2
fi

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount /dev"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "mount /tmp"
mount -t tmpfs -o mode=755 tmpfs /run || fail "mount /run"
mount -t tmpfs -o mode=755 tmpfs /var/lib || fail "mount /var/lib"
# The integration tests name td-attack by the path cargo built it at: put it
# back there when a tmpfs above covered it (a checkout under /tmp).
if [ -f /vm/td-attack.path ]; then
	p=$(cat /vm/td-attack.path)
	if [ ! -x "$p" ]; then
		mkdir -p "${p%/*}" && cp /vm/td-attack "$p" || fail "put td-attack at $p"
	fi
fi
hostname tdvm

mode=$(sed -n 's/.*tdmode=\([a-z0-9]*\).*/\1/p' /proc/cmdline)
echo "TDVM-BOOTED: $mode $(uname -r), init at $(cut -d' ' -f1 /proc/uptime) s of uptime"

cg=/sys/fs/cgroup
case "$mode" in
v2)
	mount -t cgroup2 cgroup2 $cg || fail "mount cgroup2"
	;;
v1 | hybrid)
	# As systemd lays out v1: one hierarchy per controller, cpu+cpuacct
	# and net_cls+net_prio together (with a symlink per name), and its
	# own named hierarchy.
	mount -t tmpfs -o mode=755 tmpfs $cg || fail "mount $cg"
	hierarchies=""
	for c in $(awk 'NR > 1 && $4 == 1 { print $1 }' /proc/cgroups); do
		case $c in
		cpu | cpuacct) h=cpu,cpuacct ;;
		net_cls | net_prio) h=net_cls,net_prio ;;
		*) h=$c ;;
		esac
		case " $hierarchies " in *" $h "*) continue ;; esac
		hierarchies="$hierarchies $h"
	done
	for h in $hierarchies; do
		mkdir -p $cg/$h
		mount -t cgroup -o $h cgroup $cg/$h || fail "mount cgroup -o $h"
		case $h in *,*)
			for name in $(echo $h | tr , ' '); do ln -s $h $cg/$name; done
			;;
		esac
	done
	mkdir -p $cg/systemd
	mount -t cgroup -o none,name=systemd cgroup $cg/systemd || fail "mount name=systemd"
	if [ "$mode" = hybrid ]; then
		mkdir -p $cg/unified
		mount -t cgroup2 cgroup2 $cg/unified || fail "mount cgroup2 at $cg/unified"
	fi
	;;
*)
	fail "tdmode=$mode: expected v2, v1 or hybrid"
	;;
esac

if [ -f /vm/modules.list ]; then
	while read -r m; do
		insmod /vm/modules/$m.ko || fail "insmod $m"
	done </vm/modules.list
fi
ip link set lo up || fail "ip link set lo up"
# An eth0 with an address and a default route, as a host has (the
# integration tests expect one): a dummy device, so nothing it sends goes
# anywhere. The VM has no network card.
ip link add eth0 type dummy || fail "ip link add eth0 type dummy"
ip addr add 192.0.2.10/24 dev eth0 && ip link set eth0 up &&
	ip route add default via 192.0.2.1 dev eth0 || fail "set up eth0"

TINYDOCKER_BIN=/usr/bin/tinydocker /vm/guest
echo "TDVM-EXIT: $?"
sync
poweroff -f
