#!/usr/bin/env bash
# Installs the Debian packages skiff's node agent and tests use, when they
# are missing: containerd and runc (containers), the CNI plugins (pod
# network), nftables (services), busybox-static (the test image),
# docker-registry (a registry on loopback for the image pull tests).
# Idempotent and quiet when everything is present; needs root to install.
set -euo pipefail

packages=(containerd runc containernetworking-plugins iptables iproute2 nftables busybox-static docker-registry)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "hack/install-deps.sh: missing ${missing[*]}; run as root (or install them) to use the containerd runtime" >&2
	exit 1
fi
echo "installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
