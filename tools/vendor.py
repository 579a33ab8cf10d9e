"""Copies third-party front-end files from ``node_modules`` into ``functions/static/vendor/`` (run by ``make``).

Nothing is loaded from a CDN at run time: the app serves these copies. The versions are the ones locked in
``package-lock.json``; the copies are build output (git-ignored) and are refreshed whenever the lock file changes.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "functions" / "static" / "vendor"
# vendor folder -> (npm package, files in the package); each file is copied flat into the folder.
FILES = {
    "swagger-ui": ("swagger-ui-dist", ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "package.json"]),
    # The dashboard's Entra sign-in (authorization code + PKCE) and its redirect page.
    "msal-browser": (
        "@azure/msal-browser",
        ["lib/msal-browser.min.js", "lib/redirect-bridge/msal-redirect-bridge.min.js", "LICENSE", "package.json"],
    ),
}


def vendor(target: Path = TARGET) -> list[Path]:
    """Copy every vendored file; returns the copies. Fails clearly when ``npm ci`` has not run."""
    copied: list[Path] = []
    for name, (package, files) in FILES.items():
        source = ROOT / "node_modules" / package
        if not source.is_dir():
            raise SystemExit(f"{package} is missing from node_modules: run `npm ci` (make does this)")
        destination = target / name
        destination.mkdir(parents=True, exist_ok=True)
        for file in files:
            copy = destination / Path(file).name
            shutil.copyfile(source / file, copy)
            copied.append(copy)
    return copied


if __name__ == "__main__":
    print(f"vendored {len(vendor())} files into {TARGET.relative_to(ROOT)}")
    sys.exit(0)
