#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A user's kernel or QEMU source tree (run-vm.sh --kernel-tree/--qemu-tree).

  source-tree.py version linux|qemu TREE
        print the tree's version, or fail with a one-line error if it is
        not such a tree or is too old
  source-tree.py state linux|qemu TREE
        print a label (git describe --dirty, or "tree") and a hash of the
        tree's state: every file's path, size and mtime (.git and build
        outputs excluded)
  source-tree.py mirror linux|qemu TREE SHADOW
        make SHADOW a tree of symbolic links to TREE's files (adding new
        ones, dropping stale ones).  simgpu builds SHADOW, so nothing is
        ever written into TREE, and make and ninja see TREE's mtimes
        through the links: an edit rebuilds what it touches.

Regular files in SHADOW (simgpu's hooks and device or driver sources)
are left alone.  Outputs of an in-tree build in TREE (a kernel's .config
and include/generated, QEMU's build/) are not mirrored: kbuild refuses
an O= build of a source tree that has them.
"""
import hashlib
import os
import re
import subprocess
import sys

# Linux: ttm_bo_shrink() and ttm_backup (the shrinker's backup to shmem)
# came in 6.14; older trees cannot build the driver.  The quick set runs
# on 7.3, the slow set on 7.2 (README, "Your own kernel and QEMU").
# Versions between are built, with a warning.
LINUX_MIN = (6, 14)
LINUX_TESTED = ((7, 2), (7, 3))
# QEMU: the device is written against 10.0's APIs (Debian trixie's).
QEMU_MIN = (10, 0)
QEMU_TESTED = ((10, 0),)

SKIP_TOP = {
    "linux": {".git", ".config", ".config.old", "Module.symvers",
              "modules.order", "vmlinux", "System.map", ".version"},
    "qemu": {".git", "build"},
}
SKIP_DIRS = {"include/config", "include/generated"}


def die(msg):
    print(f"source-tree: {msg}", file=sys.stderr)
    sys.exit(1)


def check_range(tree, name, ver, full, lowest, tested, why):
    if ver < lowest:
        die(f"{tree}: {name} {full} is too old: simgpu needs "
            f"{lowest[0]}.{lowest[1]} or newer ({why})")
    if ver[:2] not in tested:
        print(f"source-tree: warning: {name} {full} is not a tested "
              "version (" + ", ".join(f"{a}.{b}" for a, b in tested) +
              "): simgpu may need a compatibility change for it",
              file=sys.stderr)


def qemu_version(tree):
    try:
        with open(os.path.join(tree, "VERSION"), encoding="utf-8") as f:
            full = f.read().strip()
    except OSError:
        full = ""
    m = re.match(r"(\d+)\.(\d+)", full)
    if not m or not os.path.isfile(os.path.join(tree, "hw/display/meson.build")):
        die(f"{tree}: not a QEMU source tree (no VERSION, or no "
            "hw/display/meson.build)")
    check_range(tree, "QEMU", (int(m.group(1)), int(m.group(2))), full,
                QEMU_MIN, QEMU_TESTED, "the device uses QEMU 10.0's APIs")
    return full


def linux_version(tree):
    try:
        with open(os.path.join(tree, "Makefile"), encoding="utf-8",
                  errors="replace") as f:
            head = f.read(4096)
    except OSError:
        die(f"{tree}: not a Linux source tree (no Makefile)")
    v = {}
    for key in ("VERSION", "PATCHLEVEL", "SUBLEVEL", "EXTRAVERSION"):
        m = re.search(rf"^{key}[ \t]*=[ \t]*(\S*)", head, re.M)
        v[key] = m.group(1) if m else ""
    if not (v["VERSION"].isdigit() and v["PATCHLEVEL"].isdigit()) or \
            not os.path.isdir(os.path.join(tree, "drivers/gpu/drm/ttm")):
        die(f"{tree}: not a Linux source tree (no kernel version in its "
            "Makefile, or no drivers/gpu/drm/ttm)")
    major, minor = int(v["VERSION"]), int(v["PATCHLEVEL"])
    full = f"{major}.{minor}"
    if v["SUBLEVEL"] not in ("", "0"):
        full += "." + v["SUBLEVEL"]
    full += v["EXTRAVERSION"]
    check_range(tree, "Linux", (major, minor), full, LINUX_MIN, LINUX_TESTED,
                "ttm_bo_shrink, ttm_backup")
    return full


def skipped(kind, rel, name):
    if rel == "" and name in SKIP_TOP[kind]:
        return True
    return kind == "linux" and (
        rel + name in SKIP_DIRS or
        re.fullmatch(r"arch/[^/]+/include/generated", rel + name))


def walk(kind, tree):
    """(relative path, lstat) of every file TREE's build would read."""
    for root, dirs, files in os.walk(tree):
        rel = os.path.relpath(root, tree)
        rel = "" if rel == "." else rel + "/"
        # A symbolic link to a directory is mirrored as a link, not walked.
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = sorted(d for d in dirs
                         if d not in links and not skipped(kind, rel, d))
        for name in sorted(files + links):
            if skipped(kind, rel, name):
                continue
            path = rel + name
            try:
                yield path, os.lstat(os.path.join(tree, path))
            except FileNotFoundError:
                continue


def state(kind, tree):
    h = hashlib.sha256()
    for path, st in walk(kind, tree):
        h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    label = "tree"
    if os.path.isdir(os.path.join(tree, ".git")):
        try:
            label = subprocess.run(
                ["git", "-C", tree, "describe", "--always", "--dirty"],
                capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            pass
    print(label, h.hexdigest()[:16])


def mirror(kind, tree, shadow):
    tree = os.path.abspath(tree)
    want = set()
    for path, _ in walk(kind, tree):
        want.add(path)
        dst = os.path.join(shadow, path)
        src = os.path.join(tree, path)
        if os.path.islink(dst):
            if os.readlink(dst) == src:
                continue
            os.unlink(dst)
        elif os.path.lexists(dst):
            continue        # simgpu's own file in the shadow tree
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        os.symlink(src, dst)
    stale = 0
    for root, dirs, files in os.walk(shadow):
        for name in files + [d for d in dirs
                             if os.path.islink(os.path.join(root, d))]:
            dst = os.path.join(root, name)
            if os.path.islink(dst) and \
                    os.path.relpath(dst, shadow) not in want:
                os.unlink(dst)
                stale += 1
    print(f"{len(want)} files mirrored, {stale} stale links removed")


def main():
    a = sys.argv[1:]
    if len(a) < 3 or a[1] not in ("linux", "qemu"):
        a = []
    if len(a) == 3 and a[0] == "version":
        print(linux_version(a[2]) if a[1] == "linux" else qemu_version(a[2]))
    elif len(a) == 3 and a[0] == "state":
        state(a[1], a[2])
    elif len(a) == 4 and a[0] == "mirror":
        mirror(a[1], a[2], a[3])
    else:
        die("usage: source-tree.py version|state linux|qemu TREE, "
            "or mirror linux|qemu TREE SHADOW")


if __name__ == "__main__":
    main()
