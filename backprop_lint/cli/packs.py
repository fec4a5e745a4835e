"""``backprop-lint packs [NAME]``: the layer packs of Caffe forks, and what each row says.

Without NAME: one line per pack (name, fork, layer types). With NAME: every row
of that pack (blob counts, learnable blobs, what Backward does to each bottom,
loss default, the cited source) and the caffe.proto fields it adds. A pack is
enabled with ``packs = ["NAME"]`` in the configuration or ``--pack NAME``.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from backprop_lint.caffe.layer_table import Backward, Count, LayerInfo
from backprop_lint.caffe.model import InputError, Message
from backprop_lint.caffe.packs import PACKS, get_pack
from backprop_lint.caffe.packs.base import Pack
from backprop_lint.cli.arguments import ArgumentParser, RawDescriptionHelpFormatter


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "packs",
        help="list the layer packs of Caffe forks (py-faster-rcnn, R-FCN, SegNet, ...) and their layer types",
        description=__doc__,
        formatter_class=RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="a pack: show its rows and schema fields")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.name is None:
        if args.format == "json":
            _write_json([_pack_summary(pack) for pack in PACKS])
        else:
            width = max(len(pack.name) for pack in PACKS)
            for pack in PACKS:
                print(f"{pack.name:<{width}}  {pack.fork}: {', '.join(pack.types)}")
            print("\nenable one with `packs = [\"NAME\"]` under [tool.backprop-lint], or `--pack NAME`; "
                  "`backprop-lint packs NAME` shows its rows")
        return 0
    try:
        pack = get_pack(args.name)
    except InputError as error:
        sys.stderr.write(f"backprop-lint: {error.message}\n")
        return 2
    if args.format == "json":
        _write_json(_pack_detail(pack))
    else:
        _print_detail(pack)
    return 0


def _pack_summary(pack: Pack) -> Dict[str, Any]:
    return {"name": pack.name, "fork": pack.fork, "repository": pack.repository, "commit": pack.commit,
            "root": pack.root, "summary": pack.summary, "types": pack.types}


def _pack_detail(pack: Pack) -> Dict[str, Any]:
    detail = _pack_summary(pack)
    detail["rows"] = [_row_json(row) for row in pack.rows]
    detail["schema_fields"] = pack.schema_fields()
    detail["enum_values"] = pack.enum_values()
    detail["v1_layer_types"] = pack.v1_layer_types()
    return detail


def _count_text(count: Count) -> str:
    if count.exact >= 0:
        return str(count.exact)
    if count.min >= 0 and count.max >= 0:
        return str(count.min) if count.min == count.max else f"{count.min}-{count.max}"
    if count.min >= 0:
        return f"{count.min} or more"
    if count.max >= 0:
        return f"at most {count.max}"
    return "any"


def _row_json(row: LayerInfo) -> Dict[str, Any]:
    empty = Message("LayerParameter")
    bottoms, tops = row.blob_counts(empty)
    shown = max(bottoms.exact, bottoms.max, bottoms.min, 0)
    return {
        "type": row.type,
        "bottoms": _count_text(bottoms),
        "tops": _count_text(tops),
        "params": row.params(empty, shown),
        "backward": [_backward_text(row.backward(j, shown, empty)) for j in range(shown)],
        "loss": row.is_loss,
        "force_backward_skips": [j for j in range(shown) if row.no_force_backward(j, shown)],
        "citation": row.citation,
        "notes": row.notes,
    }


def _backward_text(behaviour: Backward) -> str:
    return behaviour.name.lower().replace("_", "-")


def _print_detail(pack: Pack) -> None:
    print(f"{pack.name}: {pack.fork}")
    print(f"  {pack.summary}")
    print(f"  source: {pack.source()} (checked against this source, not run)")
    for row in _pack_detail(pack)["rows"]:
        loss = ", loss (loss_weight 1 on top 0 by default)" if row["loss"] else ""
        print(f"\n  {row['type']}: bottoms {row['bottoms']}, tops {row['tops']}, "
              f"learnable blobs {row['params']}{loss}")
        for j, behaviour in enumerate(row["backward"]):
            print(f"    bottom {j}: {behaviour}")
        if row["notes"]:
            print(f"    note: {row['notes']}")
        print(f"    cited: {row['citation']}")
    fields = pack.schema_fields()
    if fields:
        print("\n  caffe.proto fields:")
        for message, names in fields.items():
            print(f"    {message}: {', '.join(names)}")
    enums = pack.enum_values()
    if enums:
        print("\n  caffe.proto enum values added:")
        for enum, values in enums.items():
            print(f"    {enum}: {', '.join(values)}")
    v1_types = pack.v1_layer_types()
    if v1_types:
        print("\n  V1 layer types (`layers { type: ... }`), upgraded to:")
        for v1_type, type_name in v1_types.items():
            print(f"    {v1_type} -> {type_name}")


def _write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=1) + "\n")


def main(argv: List[str]) -> int:
    parser = ArgumentParser(prog="backprop-lint")
    register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(argv)
    return int(parsed.handler(parsed))
