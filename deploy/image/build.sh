#!/usr/bin/env bash
# Builds the container image of loyalty-ledger without a registry: a Debian root filesystem of
# Python and its libraries only (mmdebstrap), the wheel and its pinned dependencies installed
# into one folder inside it, assembled into an OCI image with buildah. `make image` runs it.
#
#   deploy/image/build.sh WHEEL CONSTRAINTS PIP_PYTHON OUT_DIR
#
# Leaves in OUT_DIR: rootfs/ (the image's filesystem, for checks through chroot), the OCI
# archive loyalty-ledger-<version>.oci.tar (`podman load -i` / `skopeo copy oci-archive:...`)
# and image.json (what was built: name, size, config). deploy/image/Containerfile is the same
# image for a CI with a registry.
set -euo pipefail

wheel=$1
constraints=$2
pip_python=$3
out=$4

suite=bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
uid=10001
app=/opt/loyalty-ledger
version=$(basename "$wheel" | cut -d- -f2)
name=loyalty-ledger:$version
# vfs needs no kernel overlay support (these machines refuse to run containers); storage is
# kept under OUT_DIR so a build never touches another user's images.
storage=(--storage-driver vfs --root "$out/storage" --runroot "$out/run")

rm -rf "$out/rootfs" "$out/loyalty-ledger-"*.oci.tar "$out/image.json"
mkdir -p "$out"

# The extract variant unpacks the named packages and what they depend on, running no
# maintainer script: no shell-dependent package manager, no compiler, no pip.
mmdebstrap --quiet --variant=extract --skip=cleanup/apt \
  --include=base-files,netbase,python3.11-minimal,libpython3.11-stdlib,libstdc++6 \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  "$suite" "$out/rootfs" "$mirror"
root=$out/rootfs

# Dependencies bring a package manager and a Perl along (tzdata -> debconf -> perl-base ->
# dpkg); nothing installs into an image, so their files go, as their .deb files list them,
# then the package bookkeeping.
for package in dpkg perl-base debconf; do
  for deb in "$root"/var/cache/apt/archives/"${package}"_*.deb; do
    [ -e "$deb" ] || continue
    dpkg-deb --fsys-tarfile "$deb" | tar -t | while IFS= read -r file; do
      path=$root/${file#./}
      if [ -f "$path" ] || [ -L "$path" ]; then rm -f "$path"; fi
    done
  done
done
find "$root" -depth -type d -empty -name '*dpkg*' -delete
rm -rf "$root/var/lib/apt" "$root/var/cache/apt" "$root/var/lib/dpkg"
mkdir -p "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nledger:x:%s:%s:loyalty-ledger:/nonexistent:/usr/sbin/nologin\n' \
  "$uid" "$uid" >"$root/etc/passwd"
printf 'root:x:0:\nledger:x:%s:\n' "$uid" >"$root/etc/group"

# The packages come from the builder's pip (the image has none), built for the same CPython
# 3.11 ABI and glibc; deploy/image/loyalty-ledger runs them with the image's Python.
site=$root$app/lib/python3.11/site-packages
"$pip_python" -m pip install --quiet --no-cache-dir --disable-pip-version-check \
  --only-binary=:all: --target "$site" -c "$constraints" "$wheel"
# pip --target writes console scripts with the builder's interpreter in their first line.
rm -rf "$site/bin"
install -D -m 0755 "$(dirname "$0")/loyalty-ledger" "$root$app/bin/loyalty-ledger"
# Byte-code compiled now: the root filesystem is read-only at run time.
chroot "$root" /usr/bin/python3.11 -m compileall -q -j 0 /usr/lib/python3.11 "$app/lib" >/dev/null || true

container=$(buildah "${storage[@]}" from --quiet scratch)
trap 'buildah "${storage[@]}" rm "$container" >/dev/null 2>&1 || true' EXIT
buildah "${storage[@]}" copy --quiet "$container" "$root" / >/dev/null
buildah "${storage[@]}" config \
  --user "$uid:$uid" \
  --workingdir / \
  --env PATH="$app/bin:/usr/bin:/bin" \
  --env PYTHONUNBUFFERED=1 \
  --env PYTHONDONTWRITEBYTECODE=1 \
  --port 50051 \
  --entrypoint '["loyalty-ledger"]' \
  --cmd serve \
  --label org.opencontainers.image.title=loyalty-ledger \
  --label "org.opencontainers.image.version=$version" \
  --label org.opencontainers.image.licenses=Apache-2.0 \
  "$container"
buildah "${storage[@]}" commit --quiet --rm "$container" "$name" >/dev/null
trap - EXIT
archive=$out/loyalty-ledger-$version.oci.tar
buildah "${storage[@]}" push --quiet "$name" "oci-archive:$archive:$name"
buildah "${storage[@]}" rmi --quiet "$name" >/dev/null 2>&1 || true

"$pip_python" - "$archive" "$out/image.json" "$name" <<'EOF'
"""image.json: the name, the archive's size and the image config, read back from the archive."""
import json
import sys
import tarfile

archive, target, name = sys.argv[1:4]
with tarfile.open(archive) as tar:
    def blob(digest: str) -> dict:
        algorithm, value = digest.split(":")
        return json.load(tar.extractfile(f"blobs/{algorithm}/{value}"))

    index = json.load(tar.extractfile("index.json"))
    manifest = blob(index["manifests"][0]["digest"])
    config = blob(manifest["config"]["digest"])
    layers = sum(layer["size"] for layer in manifest["layers"])
with open(archive, "rb") as whole:
    size = whole.seek(0, 2)
json.dump(
    {"name": name, "archive_bytes": size, "layers_bytes": layers, "config": config["config"]},
    open(target, "w"),
    indent=2,
)
EOF
echo "built $name: $archive ($(du -h "$archive" | cut -f1)), filesystem in $root"
