"""A PEP 517 build backend for the one-module credagent client, standard library only.

pip installs from this directory (or builds the wheel a release archive ships) without fetching
any build tool: pyproject.toml names this file as its in-tree backend and requires nothing.
It builds a pure-Python wheel (credagent.py and its .dist-info) and an sdist."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
MODULES = ["credagent.py"]
SDIST_FILES = ["pyproject.toml", "_backend.py", "README.md", "credagent.py", "test_credagent.py"]
# A fixed time inside the zip and tar entries: the same sources make the same bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)


def _project() -> Dict[str, str]:
    """[project]'s name, version, description and requires-python (tomllib on 3.11+, else the few
    plain `key = "value"` lines this file holds)."""
    with open(os.path.join(HERE, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib

        project = tomllib.loads(raw.decode("utf-8"))["project"]
        return {k: project[k] for k in ("name", "version", "description", "requires-python")}
    except ImportError:
        section = raw.decode("utf-8").split("[project]", 1)[1].split("\n[", 1)[0]
        pairs = dict(re.findall(r'^([\w-]+)\s*=\s*"([^"]*)"', section, re.MULTILINE))
        return {k: pairs[k] for k in ("name", "version", "description", "requires-python")}


def _metadata(p: Dict[str, str]) -> str:
    with open(os.path.join(HERE, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {p['name']}\n"
        f"Version: {p['version']}\n"
        f"Summary: {p['description']}\n"
        "License: MIT\n"
        f"Requires-Python: {p['requires-python']}\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + readme
    )


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{path},sha256={digest},{len(data)}"


def _wheel_name(p: Dict[str, str]) -> str:
    return f"{p['name']}-{p['version']}-py3-none-any.whl"


def _write_wheel(directory: str) -> str:
    p = _project()
    dist_info = f"{p['name']}-{p['version']}.dist-info"
    files: List[Tuple[str, bytes]] = []
    for module in MODULES:
        with open(os.path.join(HERE, module), "rb") as f:
            files.append((module, f.read()))
    files.append((f"{dist_info}/METADATA", _metadata(p).encode("utf-8")))
    files.append((f"{dist_info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: credagent _backend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = "\n".join([_record_line(path, data) for path, data in files] + [f"{dist_info}/RECORD,,", ""])
    files.append((f"{dist_info}/RECORD", record.encode("utf-8")))
    name = _wheel_name(p)
    with zipfile.ZipFile(os.path.join(directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files:
            info = zipfile.ZipInfo(path, EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
    return name


# PEP 517 hooks.


def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None, metadata_directory: Optional[str] = None) -> str:
    return _write_wheel(wheel_directory)


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    p = _project()
    base = f"{p['name']}-{p['version']}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tar:
        entries: List[Tuple[str, bytes]] = [("PKG-INFO", _metadata(p).encode("utf-8"))]
        for file in SDIST_FILES:
            with open(os.path.join(HERE, file), "rb") as f:
                entries.append((file, f.read()))
        for path, data in entries:
            info = tarfile.TarInfo(f"{base}/{path}")
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return name


if __name__ == "__main__":
    # python3 _backend.py DIR: the wheel into DIR (scripts/release.sh), its name on stdout.
    import sys

    print(_write_wheel(sys.argv[1] if len(sys.argv) > 1 else "."))
