"""A model as JavaScript: a module for Node or a page's script (`--format js`), and one
self-contained writing page (`--format web`) that needs no server and no network.

Both hold the same two things: the runtime (`runtime.js`, one function) and the model's
bundle (`bundle.py`) as JSON with its weights in base64. The module exposes
`model(options)` -> a fresh model (see runtime.js), `manifest` and `runtime`; in Node
through `require`, in a page as the global `charrnnModel`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources

import numpy as np

from charrnn.export.bundle import Bundle
from charrnn.export.wasm_kernel import module_bytes

_MODULE = """/* {name}: a charrnn model ({cell} {layers}x{hidden}, {weights} weights), exported by
 * `charrnn export`. In Node: const m = require("./this-file.js").model(); in a page:
 * <script src="this-file.js"></script> then charrnnModel.model(). */
(function (root) {{
{runtime}
  const runtime = charrnnRuntime();
  const bundle = {bundle};
  const api = {{
    model: (options) => runtime.load(bundle, options),
    manifest: bundle.manifest,
    runtime,
  }};
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.charrnnModel = api;
}})(typeof self !== "undefined" ? self : this);
"""


def writing_page_part(name: str) -> str:
    """What the served writing page and an exported one share (writing.css, the look;
    suggestions.js, Tab's inline suggestions), as text to inline."""
    return resources.files("charrnn.export").joinpath(name).read_text("utf-8")


def runtime_source() -> str:
    return resources.files("charrnn.export").joinpath("runtime.js").read_text("utf-8")


# Z85 (ZeroMQ's base-85): 5 characters for 4 bytes, where base64 takes 5.33, so a page
# of fp16 weights is 6% smaller; none of its characters needs escaping in a JSON string
Z85 = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
       ".-:+=^!/*?&<>()[]{}@%$#")


def z85(data: bytes) -> str:
    """`data` (a multiple of 4 bytes) in Z85, big-endian words as the standard says."""
    words = np.frombuffer(data, dtype=">u4").astype(np.uint64)
    digits = np.empty((len(words), 5), dtype=np.uint8)
    for k in range(4, -1, -1):
        digits[:, k] = words % 85
        words //= 85
    return np.frombuffer(Z85.encode(), dtype=np.uint8)[digits].tobytes().decode("ascii")


def script_safe(text: str) -> str:
    """Text for inside a page's <script> (a model's name, labels, a vocabulary; the
    insight pages' JSON) with every `<` as `\\u003c` (read back as `<` inside a JavaScript
    or JSON string): there `</script` ends it early and `<!--` then `<script` keep its
    real end from ending it."""
    return text.replace("<", "\\u003c")


def bundle_json(bundle: Bundle) -> str:
    """The bundle as one JSON object, safe inside a <script> element. The manifest is
    `script_safe` (and ASCII, so U+2028 is escaped too); in the Z85 weights, whose `<`
    is one character in 85, only a `<` that could open a tag is escaped, to keep the
    page small."""
    manifest = json.dumps(bundle.manifest, ensure_ascii=True, separators=(",", ":"))
    weights = re.sub(r"<(?=[!/A-Za-z])", r"\\u003c", z85(bundle.data))
    kernel = base64.b64encode(module_bytes()).decode("ascii")
    return (f'{{"manifest":{script_safe(manifest)},"weights_z85":"{weights}",'
            f'"kernel":"{kernel}"}}')


def module_source(bundle: Bundle) -> str:
    """The JavaScript module of `bundle` (see the module doc)."""
    m = bundle.manifest
    return _MODULE.format(name=script_safe(m["name"]).replace("*/", "* /"), cell=m["cell"],
                          layers=m["layers"], hidden=m["hidden"], weights=m["weights"],
                          runtime=runtime_source(), bundle=bundle_json(bundle))


def page_source(bundle: Bundle) -> str:
    """The writing page of `bundle`: one HTML file, its model and script inside."""
    page = resources.files("charrnn.export").joinpath("page.html").read_text("utf-8")
    module = module_source(bundle).replace("</script", "<\\/script")
    return (page.replace("{{title}}", html.escape(bundle.manifest["name"]))
                .replace("/*WRITING_STYLE*/", writing_page_part("writing.css"))
                .replace("/*SUGGESTIONS*/", writing_page_part("suggestions.js"))
                .replace("/*{{module}}*/", module))
