"""Reading scenario files: TOML, ``extends``, ``--set`` overrides, region defaults, errors.

The steps, in order:

1. read the TOML file; if it has ``extends = "other.toml"`` (relative to the file), read that
   first and deep-merge this file over it (tables merge key by key; a table with a ``kind``,
   a distribution, replaces the one below it whole; arrays and values replace);
2. apply ``--set PATH=VALUE`` overrides (dotted path, VALUE read as a TOML value, or as a
   plain string when it is not one);
3. merge ``region_defaults`` under every region;
4. validate into a frozen :class:`~sim.scenario.schema.Scenario`.

Every problem becomes one line ``FILE: field.path: what is wrong`` in a
:class:`ScenarioError`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.errors import UserError
from sim.scenario.schema import Scenario

FILE_ONLY_KEYS = ("extends", "region_defaults", "region_overrides")


class ScenarioError(UserError):
    """A scenario file (or an override of one) is not valid."""


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from (for manifests)."""

    scenario: Scenario
    path: Path
    files: tuple[Path, ...]  # the file and every file it extends, child first
    sha256: str  # over the bytes of all those files, in that order
    overrides: tuple[str, ...] = field(default=())
    scale: float = 1.0  # --scale applied (see sim.scenario.scaling)
    volume_factor: float = 1.0

    def resolved(self) -> dict[str, Any]:
        """The scenario after overrides (and scaling), as plain JSON-ready data."""
        return self.scenario.model_dump(mode="json", by_alias=True)

    def scaled(self, scale: float) -> LoadedScenario:
        """This scenario at ``scale`` of its volume, resources scaled alike."""
        from sim.scenario.scaling import scale_scenario

        if scale == self.scale:
            return self
        s = scale_scenario(self.scenario, scale)
        return dataclasses.replace(
            self, scenario=s.scenario, scale=s.scale, volume_factor=s.volume_factor
        )


# ---------------------------------------------------------------- reading and merging


def deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: tables merge, a table with ``kind`` replaces, the rest replace."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(value, dict) and isinstance(below, dict) and "kind" not in value:
            merged[key] = deep_merge(below, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a UTF-8 text file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: TOML syntax error: {exc}") from None


def read_with_extends(
    path: Path, _chain: tuple[Path, ...] = ()
) -> tuple[dict[str, Any], list[tuple[Path, bytes]]]:
    """The file's data merged over everything it extends, and the files read (child first)."""
    path = Path(path)
    real = path.resolve()
    data, raw = _read_toml(path)
    files = [(path, raw)]
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return data, files
    if not isinstance(parent_ref, str):
        raise ScenarioError(f"{path}: extends: must be a file path string")
    parent_path = path.parent / parent_ref
    if not parent_path.is_file():
        raise ScenarioError(f"{path}: extends: file '{parent_ref}' not found (at {parent_path})")
    chain = (*_chain, real)
    if parent_path.resolve() in chain:
        cycle = " -> ".join(str(p) for p in (*chain, parent_path.resolve()))
        raise ScenarioError(f"{path}: extends: cycle: {cycle}")
    parent, parent_files = read_with_extends(parent_path, chain)
    for own in ("name", "description"):  # a child names and describes itself
        parent.pop(own, None)
    return deep_merge(parent, data), files + parent_files


# ---------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``"a.b.0=1.5"`` -> (["a", "b", 0], 1.5); VALUE is TOML, or a plain string."""
    if "=" not in text:
        raise ScenarioError(f"--set {text}: expected PATH=VALUE, e.g. regions.east.officers=40")
    path_text, value_text = text.split("=", 1)
    path_text = path_text.strip()
    if not path_text or any(not part for part in path_text.split(".")):
        raise ScenarioError(f"--set {text}: the path '{path_text}' is empty or has an empty part")
    path: list[str | int] = [int(p) if p.isdigit() else p for p in path_text.split(".")]
    try:
        value = tomllib.loads(f"v = {value_text}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``data`` with every ``PATH=VALUE`` override applied."""
    return _apply_overrides(data, overrides)[0]


def _apply_overrides(
    data: dict[str, Any], overrides: Iterable[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The overridden copy, and the tables an override created (path -> the override)."""
    data = copy.deepcopy(data)
    created: dict[str, str] = {}
    for text in overrides:
        path, value = parse_override(text)
        node: Any = data
        for depth, key in enumerate(path[:-1]):
            where = ".".join(str(p) for p in path[: depth + 1])
            if isinstance(node, list):
                if not isinstance(key, int) or key >= len(node):
                    raise ScenarioError(f"--set {text}: '{where}' is not an index of the array")
                node = node[key]
            elif isinstance(node, dict):
                if str(key) not in node:
                    created.setdefault(where, text)
                node = node.setdefault(str(key), {})
            else:
                raise ScenarioError(f"--set {text}: '{where}' is a value, not a table")
        last = path[-1]
        if isinstance(node, list):
            if not isinstance(last, int) or last >= len(node):
                raise ScenarioError(f"--set {text}: '{last}' is not an index of the array")
            node[last] = value
        elif isinstance(node, dict):
            node[str(last)] = value
        else:
            raise ScenarioError(f"--set {text}: the parent of '{last}' is a value, not a table")
    return data, created


def merge_region_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Merge ``region_defaults`` under every region and ``region_overrides`` over it."""
    defaults = data.pop("region_defaults", None)
    overrides = data.pop("region_overrides", None)
    regions = data.get("regions")
    for key, table in (("region_defaults", defaults), ("region_overrides", overrides)):
        if table is not None and not isinstance(table, dict):
            raise ScenarioError(f"{key}: must be a table")
    if not isinstance(regions, dict):
        return data
    merged = {}
    for name, region in regions.items():
        if isinstance(region, dict):
            region = deep_merge(defaults or {}, region)
            region = deep_merge(region, overrides or {})
        merged[name] = region
    data["regions"] = merged
    return data


# ---------------------------------------------------------------- validation messages


def _schema_node(loc: Sequence[Any]) -> dict[str, Any] | None:
    """The JSON-schema node at ``loc`` (following refs, unions and discriminators)."""
    schema = Scenario.model_json_schema(by_alias=True)
    defs = schema.get("$defs", {})

    def deref(node: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in node:
                node = defs[node["$ref"].split("/")[-1]]
            elif "anyOf" in node:  # X | None: follow X
                options = [o for o in node["anyOf"] if o.get("type") != "null"]
                if not options:
                    return node
                node = options[0]
            else:
                return node

    node = deref(schema)
    for key in loc:
        if "discriminator" in node:
            ref = node["discriminator"]["mapping"].get(key)
            if ref is None:
                return None
            node = deref({"$ref": ref})
        elif key in node.get("properties", {}):
            node = deref(node["properties"][key])
        elif isinstance(node.get("additionalProperties"), dict):
            node = deref(node["additionalProperties"])
        elif "items" in node and isinstance(key, int):
            node = deref(node["items"])
        else:
            return None
    return node


_KINDS = {
    "constant",
    "exponential",
    "lognormal",
    "gamma",
    "uniform",
    "triangular",
    "empirical",
    "poisson",
}


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    """Drop pydantic's union-tag steps (e.g. 'lognormal' in claim_yuan.lognormal.sigma)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        is_tag = isinstance(part, str) and (part in _KINDS or part.startswith("function-"))
        if is_tag and i + 1 < len(loc):
            continue
        out.append(part)
    return out


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: Mapping[str, Any], raw_loc: Sequence[Any]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _schema_node(raw_loc[:-1])
        known = sorted((parent or {}).get("properties", {}))
        text = "unknown field"
        close = difflib.get_close_matches(str(raw_loc[-1]), known, n=1)
        if close:
            text += f"; did you mean '{close[0]}'?"
        elif known:
            text += f" (allowed: {', '.join(known)})"
        return text
    if kind == "missing":
        return "missing required field"
    msg = err["msg"]
    msg = msg.removeprefix("Value error, ")
    says_got = msg.startswith("give") or "got " in msg  # the message quotes the value itself
    if "input" in err and kind not in ("model_type", "dict_type") and not says_got:
        msg += f" (got {_describe(err['input'])})"
    return msg


def validation_problems(
    exc: ValidationError,
    source: str,
    overrides: Sequence[str],
    created: dict[str, str] | None = None,
) -> list[str]:
    """One ``source: path: message`` line per problem, noting problems a --set caused."""
    set_paths = {o.split("=", 1)[0].strip(): o for o in overrides if "=" in o}
    set_paths.update(created or {})
    lines: list[str] = []
    for err in exc.errors():
        raw_loc = err["loc"]
        loc = _clean_loc(raw_loc)
        if not loc and err["type"] == "value_error":  # cross-reference checks, pre-formatted
            for part in err["msg"].removeprefix("Value error, ").split("; "):
                lines.append(f"{source}: {part}")
            continue
        path = ".".join(str(p) for p in loc) or "(top level)"
        line = f"{source}: {path}: {_message(err, raw_loc)}"
        for set_path, text in set_paths.items():
            if path == set_path or path.startswith(set_path + "."):
                line += f" (from --set {text})"
                break
        lines.append(line)
    return lines


# ---------------------------------------------------------------- entry points

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> LoadedScenario:
    """Read, merge, override and validate one scenario file."""
    path = Path(path)
    data, files = read_with_extends(path)
    data.setdefault("name", _NAME_UNSAFE.sub("-", path.stem) or "scenario")
    data, created = _apply_overrides(data, overrides)
    data = merge_region_defaults(data)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(validation_problems(exc, str(path), overrides, created)) from None
    digest = hashlib.sha256()
    for _, raw in files:
        digest.update(raw)
    return LoadedScenario(
        scenario=scenario,
        path=path,
        files=tuple(p for p, _ in files),
        sha256=digest.hexdigest(),
        overrides=tuple(overrides),
    )


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario *file* (with the file-only keys) for editors."""
    schema = Scenario.model_json_schema(by_alias=True)
    schema["title"] = "chakong scenario"
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "A scenario file this one extends, relative to this file; "
        "this file states only what changes.",
    }
    schema["properties"]["region_defaults"] = {
        "type": "object",
        "description": "Any region fields, merged under every region in [regions].",
    }
    schema["properties"]["region_overrides"] = {
        "type": "object",
        "description": "Any region fields, merged over every region in [regions] "
        "(what-ifs: a policy for all regions at once).",
    }
    schema["required"] = [r for r in schema.get("required", []) if r != "name"]
    return schema
