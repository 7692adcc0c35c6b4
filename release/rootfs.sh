#!/usr/bin/env bash
# The files of the container image (see Dockerfile), under DIR:
#
#   DIR/rootfs/gatehouse                           the static binary (build.sh --binary)
#   DIR/rootfs/etc/ssl/certs/ca-certificates.crt   CA certificates (SMTP, OIDC, PostgreSQL over TLS)
#   DIR/rootfs/usr/share/zoneinfo/                 time zones
#   DIR/rootfs/etc/passwd, etc/group               the user nonroot, 65532, for tools that look it up
#   DIR/rootfs/tmp/                                1777, for temporary files
#   DIR/data/                                      empty: the image's /data, owned by 65532 there
#
#   release/rootfs.sh DIR        # VERSION as for build.sh
#
# The certificates and time zones are this machine's: Debian's packages
# ca-certificates and tzdata. The Dockerfile's build stage runs this script
# in golang:1.27-bookworm; CI runs it on its own Debian machine and builds
# the image's final stage from DIR (buildah bud --build-context build=DIR),
# since it cannot pull the golang image.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: release/rootfs.sh DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

for f in /etc/ssl/certs/ca-certificates.crt /usr/share/zoneinfo/UTC; do
  [ -e "$f" ] || { echo "rootfs: $f is missing (Debian packages ca-certificates and tzdata)" >&2; exit 1; }
done

rm -rf "$dir/rootfs" "$dir/data"
mkdir -p "$dir/rootfs/etc/ssl/certs" "$dir/rootfs/usr/share" "$dir/rootfs/tmp" "$dir/data"
release/build.sh --binary "$dir/rootfs/gatehouse"
cp /etc/ssl/certs/ca-certificates.crt "$dir/rootfs/etc/ssl/certs/"
# Its links (UTC -> Etc/UTC) are relative, within the tree, except Debian's
# localtime -> /etc/localtime, which the image has no use for.
cp -R /usr/share/zoneinfo "$dir/rootfs/usr/share/"
rm -f "$dir/rootfs/usr/share/zoneinfo/localtime"
printf 'nonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n' > "$dir/rootfs/etc/passwd"
printf 'nonroot:x:65532:\n' > "$dir/rootfs/etc/group"
chmod 0644 "$dir/rootfs/etc/passwd" "$dir/rootfs/etc/group"
chmod 1777 "$dir/rootfs/tmp"
echo "rootfs: $dir/rootfs and $dir/data"
