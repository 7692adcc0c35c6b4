#!/usr/bin/env bash
# Release build: static gatehouse binaries for linux/amd64 and
# linux/arm64, reproducible (-trimpath, no build ID, VCS stamp from the
# commit), stripped (-s -w), each in a tar.gz with the README, LICENSE and
# CHANGELOG, and a SHA256SUMS file over them.
#
#   VERSION=v1.2.3 release/build.sh      # into dist/
#   release/build.sh --binary FILE       # only the binary, for GOOS/GOARCH
#                                        # (the container image's, see rootfs.sh)
#
# VERSION defaults to `git describe`. `gatehouse version` prints it, with
# the revision and the commit's time (from runtime/debug.ReadBuildInfo).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
OUT=${OUT:-dist}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64"}

case "$VERSION" in
  *[!A-Za-z0-9._+-]*) echo "release: VERSION $VERSION may hold only letters, digits and . _ + -" >&2; exit 2 ;;
esac

# build_binary OS ARCH FILE: the static, stripped, reproducible binary.
build_binary() {
  CGO_ENABLED=0 GOOS=$1 GOARCH=$2 go build -trimpath -buildvcs=true \
    -ldflags "-s -w -buildid= -X main.version=$VERSION" \
    -o "$3" ./cmd/gatehouse
}

if [ "${1:-}" = --binary ]; then
  [ -n "${2:-}" ] || { echo "release: --binary needs a FILE" >&2; exit 2; }
  build_binary "$(go env GOOS)" "$(go env GOARCH)" "$2"
  exit 0
fi

rm -rf "$OUT"
mkdir -p "$OUT"
for platform in $PLATFORMS; do
  os=${platform%/*}
  arch=${platform#*/}
  name="gatehouse-$VERSION-$os-$arch"
  stage="$OUT/$name"
  mkdir -p "$stage"
  build_binary "$os" "$arch" "$stage/gatehouse"
  cp README.md LICENSE CHANGELOG.md "$stage/"
  # Fixed owner, order and times: the same commit gives the same archive.
  tar --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@$(git log -1 --format=%ct 2>/dev/null || echo 0)" \
    -C "$OUT" -cf - "$name" | gzip -9n > "$OUT/$name.tar.gz"
  rm -rf "$stage"
  echo "built $OUT/$name.tar.gz"
done
(cd "$OUT" && sha256sum -- *.tar.gz > SHA256SUMS)
echo "checksums in $OUT/SHA256SUMS"
