"""The pictures of the pages in the docs, taken from real runs in headless Chromium.

    python docs/screenshots.py serve --checkpoint checkpoints/tinyshakespeare
    python docs/screenshots.py page surprise.html --name explain-page --hover 120

`serve`: starts `charrnn serve` on the checkpoint, types a prime into the writing page,
asks for suggestions with Tab and saves docs/serve-page.png. `page`: opens a page that
`charrnn explain` or `neurons` wrote, hovers the character at --hover and saves
docs/NAME.png. Uses Debian's chromium through Playwright (nothing downloads a browser).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

DOCS = Path(__file__).resolve().parent
PRIME = "ROMEO:\nBut soft, what light through yonder window breaks?\n\nJULIET:\n"


def serve_page(checkpoint: str) -> Path:
    proc = subprocess.Popen([sys.executable, "-m", "charrnn", "serve", "--checkpoint",
                             checkpoint, "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        url = next(line.split(" at ")[1].split()[0] for line in proc.stderr
                   if " at http://" in line)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                        args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1000, "height": 560})
            page.goto(url)
            page.wait_for_function("document.getElementById('model').textContent"
                                   ".includes('parameters')")
            page.click("#text")
            page.keyboard.type(PRIME)
            page.keyboard.press("Tab")
            page.wait_for_function("document.getElementById('status').textContent"
                                   ".startsWith('suggestion 1 of')")
            out = DOCS / "serve-page.png"
            page.screenshot(path=str(out))
            browser.close()
        return out
    finally:
        proc.terminate()
        proc.wait()


def written_page(path: str, name: str, hover: int, select: str | None) -> Path:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"),
                                    args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 620})
        page.goto(Path(path).resolve().as_uri())
        if select:
            page.select_option("#cell", select)
        page.locator("#text span").nth(hover).hover()
        out = DOCS / f"{name}.png"
        page.screenshot(path=str(out))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["serve", "page"])
    parser.add_argument("path", nargs="?", help="page: the HTML file")
    parser.add_argument("--checkpoint", help="serve: the checkpoint to serve")
    parser.add_argument("--name", help="page: the picture's name in docs/")
    parser.add_argument("--hover", type=int, default=0, help="page: character to hover")
    parser.add_argument("--select", help="page: the cell to show (neurons)")
    args = parser.parse_args()
    if args.what == "serve":
        print(serve_page(args.checkpoint))
    else:
        print(written_page(args.path, args.name, args.hover, args.select))


if __name__ == "__main__":
    main()
