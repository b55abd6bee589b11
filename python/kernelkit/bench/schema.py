"""The JSON Schema of ``kernelkit bench --json`` files (schema_version 1).

bench/README.md documents every field; tests/test_bench_cli.py validates a run's file against
this schema and checks that the README names every property it declares.
"""

from __future__ import annotations

from typing import Any

_NUMBER = {"type": "number"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_STRING_OR_NULL = {"type": ["string", "null"]}
_REASONS = {"type": "object", "additionalProperties": {"type": "string"}}


def _object(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """An object that must have every one of ``properties`` and no others."""
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
        **extra,
    }


TIMING = _object(
    {
        "min_ms": _NUMBER,
        "median_ms": _NUMBER,
        "times_ms": {"type": "array", "items": _NUMBER, "minItems": 1},
    }
)
METHOD = _object({**TIMING["properties"], "rel_diff": _NUMBER, "matches": {"type": "boolean"}})
PEER = _object(
    {
        "method": {"type": "string"},
        "min_ms": _NUMBER,
        "median_ms": _NUMBER,
        "speedup": _NUMBER,
        "matches": {"type": "boolean"},
        "methods": {"type": "object", "additionalProperties": METHOD, "minProperties": 1},
    }
)
MEMORY = _object(
    {
        "extra_bytes": {"type": ["integer", "null"]},
        "method": {"type": "string"},
        "error": _STRING_OR_NULL,
    }
)
RESULT = _object(
    {
        "suite": {"type": "string"},
        "case": {"type": "string"},
        "description": {"type": "string"},
        "dtype": {"enum": ["float32", "float64"]},
        "threads": {"type": "integer", "minimum": 1},
        "flops": _NUMBER_OR_NULL,
        "bytes_moved": {"type": "integer"},
        "kernelkit": {"oneOf": [TIMING, {"type": "null"}]},
        "gflops": _NUMBER_OR_NULL,
        "copy_gbps": _NUMBER_OR_NULL,
        "bound": {"enum": ["fma", "copy", None]},
        "bound_gflops": _NUMBER_OR_NULL,
        "pct_of_bound": _NUMBER_OR_NULL,
        "pct_of_fma": _NUMBER_OR_NULL,
        "pct_of_gemm": _NUMBER_OR_NULL,
        "extra_memory": {"oneOf": [MEMORY, {"type": "null"}]},
        "peers": {"type": "object", "additionalProperties": PEER},
        "skipped": _REASONS,
        "error": _STRING_OR_NULL,
        "unavailable": _STRING_OR_NULL,
        "matches": {"type": "boolean"},
    }
)
CEILINGS = _object(
    {
        "threads": {"type": "integer", "minimum": 1},
        "fma_gflops": {"type": "object", "additionalProperties": _NUMBER},
        "gemm_gflops": {"type": "object", "additionalProperties": _NUMBER},
        "gemm_size": {"type": "integer"},
        "copy_gbps": _NUMBER,
    }
)
MACHINE = _object(
    {
        "date": {"type": "string"},
        "hostname": {"type": "string"},
        "platform": {"type": "string"},
        "python": {"type": "string"},
        "cpu_model": {"type": "string"},
        "cpu_flags": {"type": "array", "items": {"type": "string"}},
        "cores": {"type": "integer"},
        "usable_cpus": {"type": "integer"},
        "caches": {"type": "object", "additionalProperties": {"type": "string"}},
        "simd_path": {"type": "string"},
        "simd_supported": {"type": "array", "items": {"type": "string"}},
        "kernelkit": {"type": "string"},
        "compiler": {"type": "string"},
        "load_average": {"type": ["array", "null"], "items": _NUMBER},
        "openblas_env": {"type": "object", "additionalProperties": {"type": "string"}},
        "warnings": {"type": "array", "items": {"type": "string"}},
        "libraries": {"type": "object", "additionalProperties": _STRING_OR_NULL},
        "threadpools": {"type": "array", "items": {"type": "object"}},
    }
)
TIMING_SETTINGS = _object(
    {
        "repeats": {"type": "integer"},
        "rounds": {"type": "integer"},
        "peer_budget_s": _NUMBER,
        "settle_s": _NUMBER,
        "warmup_s": _NUMBER,
    }
)

#: the whole file
RESULT_SCHEMA: dict[str, Any] = _object(
    {
        "schema_version": {"const": 1},
        "command": {"type": "string"},
        "quick": {"type": "boolean"},
        "suites": {"type": "array", "items": {"type": "string"}},
        "threads": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        "timing": TIMING_SETTINGS,
        "machine": MACHINE,
        "peers": _object(
            {"loaded": {"type": "array", "items": {"type": "string"}}, "missing": _REASONS}
        ),
        "ceilings": {"type": "array", "items": CEILINGS},
        "results": {"type": "array", "items": RESULT},
    },
    **{
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "kernelkit bench results",
    },
)


def property_names(schema: dict[str, Any] = RESULT_SCHEMA) -> set[str]:
    """Every property name the schema declares, at any depth."""
    names = set()
    for key, value in schema.get("properties", {}).items():
        names.add(key)
        for sub in (value, value.get("items", {}), value.get("additionalProperties", {})):
            if isinstance(sub, dict):
                names |= property_names(sub)
        for option in value.get("oneOf", []):
            names |= property_names(option)
    return names
