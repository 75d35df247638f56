#!/usr/bin/env python3
"""Build the app's OCI image without Docker, reproducibly (same inputs -> same digest).

The image is a plain single-manifest OCI image (no index of platforms, no attestations),
the layout containerd-shim-spin runs when an image's root holds /spin.toml:

    /spin.toml                  spin.toml with each component's `source` rewritten to
                                the file's base name, e.g. "heart_disease_api.wasm"
    /heart_disease_api.wasm     the component, byte for byte as built

One uncompressed tar layer: every byte of it is fixed by the two files' contents
(mtime = SOURCE_DATE_EPOCH or 0, uid/gid 0, no user names, mode 0644, fixed order),
and the config carries no creation time. Uncompressed, so the digest does not depend
on a compressor's version; push with `skopeo copy --preserve-digests` to keep it.
Platform wasi/wasm, as `docker buildx build --platform wasi/wasm` would record for
such an image; entrypoint "/", the command the spin-operator gives its containers.

Output: an OCI image layout directory (oci-layout, index.json, blobs/sha256/...) that
`skopeo inspect oci:DIR:TAG` and `skopeo copy oci:DIR:TAG docker://...` read. The
manifest digest is printed on stdout and written to DIR.digest.

Python 3.11 standard library only (tomllib), so `make image` needs no venv.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tomllib
from pathlib import Path

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"


def fail(msg: str) -> "None":
    print(f"build-image: {msg}", file=sys.stderr)
    sys.exit(1)


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rewrite_spin_toml(text: str, wasm_name: str) -> str:
    """Point every component's `source` at the .wasm in the image root.

    Only string sources (local files) are rewritten; the manifest must name exactly
    one distinct local source file, the one being packaged.
    """
    try:
        manifest = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        fail(f"spin.toml is not valid TOML: {e}")
    if manifest.get("spin_manifest_version") != 2:
        fail("spin.toml must be a version 2 manifest (spin_manifest_version = 2)")
    components = manifest.get("component") or {}
    if not components:
        fail("spin.toml declares no [component.*]")
    sources = {c.get("source") for c in components.values()}
    if len(sources) != 1 or not isinstance(next(iter(sources)), str):
        fail(f"spin.toml must name one local .wasm source for all components, found {sorted(map(str, sources))}")
    (old,) = sources
    pattern = re.compile(r'^(\s*source\s*=\s*)"' + re.escape(old) + r'"\s*$', re.MULTILINE)
    new_text, n = pattern.subn(lambda m: f'{m.group(1)}"{wasm_name}"', text)
    if n != len(components):
        fail(f"could not rewrite `source = \"{old}\"` ({n} of {len(components)} lines matched)")
    check = tomllib.loads(new_text)
    assert all(c["source"] == wasm_name for c in check["component"].values())
    return new_text


def layer_tar(files: list[tuple[str, bytes]], mtime: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = mtime
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.type = tarfile.REGTYPE
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def write_blob(blobs: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wasm", required=True, type=Path, help="the built component (.wasm)")
    ap.add_argument("--spin-toml", required=True, type=Path, help="the app's spin.toml")
    ap.add_argument("--out", required=True, type=Path, help="OCI layout directory to (re)create")
    ap.add_argument("--tag", required=True, help="tag recorded in index.json (org.opencontainers.image.ref.name)")
    ap.add_argument("--version", default="", help="org.opencontainers.image.version label (default: spin.toml's application.version)")
    ap.add_argument("--source", default="", help="org.opencontainers.image.source label")
    args = ap.parse_args()

    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", args.tag):
        fail(f"invalid tag {args.tag!r}")
    if not args.wasm.is_file():
        fail(f"{args.wasm} not found (run `make build` first)")
    if not args.spin_toml.is_file():
        fail(f"{args.spin_toml} not found")
    wasm = args.wasm.read_bytes()
    if wasm[:4] != b"\0asm":
        fail(f"{args.wasm} is not a WebAssembly binary (no \\0asm magic)")
    wasm_name = args.wasm.name
    version = args.version or str(tomllib.loads(args.spin_toml.read_text(encoding="utf-8")).get("application", {}).get("version", ""))
    spin_toml = rewrite_spin_toml(args.spin_toml.read_text(encoding="utf-8"), wasm_name).encode()
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    tar = layer_tar([("spin.toml", spin_toml), (wasm_name, wasm)], mtime)
    layer = {"mediaType": MEDIA_LAYER, **write_blob(blobs, tar)}
    labels = {"org.opencontainers.image.title": "heart-disease-api"}
    if version:
        labels["org.opencontainers.image.version"] = version
    if args.source:
        labels["org.opencontainers.image.source"] = args.source
    config = {
        "architecture": "wasm",
        "os": "wasi",
        "config": {"Entrypoint": ["/"], "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]},
        "history": [{"created_by": "tools/oci/build-image.py", "comment": "spin.toml + component"}],
    }
    config_desc = {"mediaType": MEDIA_CONFIG, **write_blob(blobs, canonical_json(config))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config_desc,
        "layers": [layer],
        "annotations": labels,
    }
    manifest_desc = {"mediaType": MEDIA_MANIFEST, **write_blob(blobs, canonical_json(manifest))}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{**manifest_desc, "annotations": {"org.opencontainers.image.ref.name": args.tag}}],
    }
    (out / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(canonical_json(index))
    out.with_name(out.name + ".digest").write_text(manifest_desc["digest"] + "\n")
    print(manifest_desc["digest"])


if __name__ == "__main__":
    main()
