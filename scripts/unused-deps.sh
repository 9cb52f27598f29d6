#!/usr/bin/env bash
# Fails when a crate of [dependencies] in Cargo.toml is named nowhere in src/ (as
# `name::`, `name {` or `name;`, dashes read as underscores): a dependency that does
# nothing costs build time and attack surface. The same idea as cargo-machete.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 - <<'PY'
import re, subprocess, sys
toml = open("Cargo.toml").read()
section = re.search(r"^\[dependencies\]\n(.*?)(?=^\[)", toml, re.S | re.M).group(1)
names = [l.split("=")[0].strip() for l in section.splitlines() if "=" in l and not l.lstrip().startswith("#")]
unused = []
for name in names:
    ident = name.replace("-", "_")
    found = subprocess.run(["grep", "-rqE", rf"\b{ident}(::|\s*\{{|;)", "src"]).returncode == 0
    if not found:
        unused.append(name)
if unused:
    sys.exit("unused dependencies (remove them from Cargo.toml): " + ", ".join(unused))
print(f"dependencies: all {len(names)} used")
PY
