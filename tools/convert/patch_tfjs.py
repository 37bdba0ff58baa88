"""Make TF.js graph-model JSON digestible for tf2onnx ``--tfjs``.  Runs INSIDE the "tf" conversion venv.

TF.js's converter writes fused ops (``_FusedConv2D``, ``FusedDepthwiseConv2dNative``, ``_FusedMatMul``) without
their ``TArgs`` attr and leaves out every attr whose value is TF's default (TF.js does not need them).  tf2onnx
rebuilds a TF graph from the JSON and TF's op registry then refuses the nodes (``NodeDef missing attr 'TArgs'``,
later ``KeyError: 'index_type'`` on TopKV2).  The patch adds ``TArgs`` (one ``T`` per fused argument) and fills in
every attr that has a default in TF's OpDef.  It never changes an attr that is present, so the graph computes the
same thing; the weights file is linked next to the patched JSON unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from google.protobuf import json_format
from tensorflow.python.framework import op_def_registry

FUSED = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul")
#: TF.js names for ops whose OpDef is registered under another name
OPDEF_ALIASES = {"FusedDepthwiseConv2dNative": "_FusedDepthwiseConv2dNative"}


def patch_nodes(nodes: list[dict]) -> dict[str, int]:
    """Add the missing attrs in place; returns how many attrs were added per kind (for the record)."""
    added: dict[str, int] = {}
    for node in nodes:
        attrs = node.setdefault("attr", {})
        if node["op"] in FUSED and "TArgs" not in attrs:
            dtype = attrs.get("T", {}).get("type", "DT_FLOAT")
            n = int(attrs.get("num_args", {}).get("i", 0))
            attrs["TArgs"] = {"list": {"type": [dtype] * n}} if n else {"list": {}}
            added["TArgs"] = added.get("TArgs", 0) + 1
        op_def = op_def_registry.get(OPDEF_ALIASES.get(node["op"], node["op"]))
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.name not in attrs and attr.HasField("default_value"):
                attrs[attr.name] = json_format.MessageToDict(attr.default_value)
                key = f"{node['op']}.{attr.name}"
                added[key] = added.get(key, 0) + 1
    return added


def patch_model(src: Path, dst: Path) -> dict[str, int]:
    """Write the patched ``dst`` JSON and link the original weight files next to it."""
    topo = json.loads(src.read_text(encoding="utf-8"))
    graph = topo["modelTopology"]
    added = patch_nodes(graph.get("node", []))
    for fn in graph.get("library", {}).get("function", []):
        added_fn = patch_nodes(fn.get("nodeDef", []))
        for k, v in added_fn.items():
            added[k] = added.get(k, 0) + v
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(topo), encoding="utf-8")
    for group in topo.get("weightsManifest", []):
        for rel in group["paths"]:
            link = dst.parent / rel
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink((src.parent / rel).resolve(), link)
    return added
