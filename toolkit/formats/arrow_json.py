"""JSON-encode Arrow columns column-wise (the ``metadata`` hot spot of normalization).

``json.dumps`` of one dict per row costs tens of microseconds per row (building the dicts from
Arrow, then walking them). Here each *column* is encoded at once with Arrow compute kernels:

* strings are escaped with vectorized ``replace_substring`` passes, or — for low-cardinality
  columns such as ``difficulty`` or generator names — by escaping only the dictionary's unique
  values;
* booleans and integers are cast; other scalars (floats, timestamps…) encode their unique values
  with :data:`JSON_ENCODER`;
* structs and lists are assembled recursively from their encoded children (struct keys sorted,
  nested nulls written as ``null``), so ``gen_input_configs``-style config dicts never become
  Python objects.

The output matches ``json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)`` for
strings, booleans, integers, nested structs and lists; floats use Python's ``repr``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

JSON_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=str)

# What json.dumps(ensure_ascii=False) escapes, besides other control characters.
_ESCAPES = (
    ("\\", "\\\\"),
    ('"', '\\"'),
    ("\n", "\\n"),
    ("\r", "\\r"),
    ("\t", "\\t"),
    ("\b", "\\b"),
    ("\f", "\\f"),
)
_OTHER_CONTROL = r"[\x00-\x07\x0b\x0e-\x1f]"
_NEEDS_ESCAPE = r'[\\"\x00-\x1f]'


def _join(parts: Sequence[pa.Array | str]) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _encode_strings(array: pa.Array) -> pa.Array:
    """JSON string literals of a string array (nulls stay null)."""
    if array.null_count == len(array):
        return pa.nulls(len(array), pa.string())
    encoded = pc.dictionary_encode(array)
    if len(encoded.dictionary) * 2 <= len(array):
        unique = pa.array(
            [JSON_ENCODER.encode(value) for value in encoded.dictionary.to_pylist()], pa.string()
        )
        return unique.take(encoded.indices)
    if not pc.any(pc.match_substring_regex(array, _NEEDS_ESCAPE)).as_py():
        return _join(['"', array, '"'])  # the common case: nothing to escape
    escaped = array
    for needle, replacement in _ESCAPES:
        escaped = pc.replace_substring(escaped, needle, replacement)
    if pc.any(pc.match_substring_regex(escaped, _OTHER_CONTROL)).as_py():
        return pa.array(
            [None if v is None else JSON_ENCODER.encode(v) for v in array.to_pylist()],
            pa.string(),
        )
    return _join(['"', escaped, '"'])


def _encode_unique_python(array: pa.Array) -> pa.Array:
    """Any scalar type: encode each distinct value once in Python."""
    try:
        encoded = pc.dictionary_encode(array)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array(
            [None if v is None else JSON_ENCODER.encode(v) for v in array.to_pylist()],
            pa.string(),
        )
    unique = pa.array(
        [JSON_ENCODER.encode(value) for value in encoded.dictionary.to_pylist()], pa.string()
    )
    return unique.take(encoded.indices)


def json_array(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One JSON text per element of ``array``; null elements give null (callers decide)."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if isinstance(kind, pa.BaseExtensionType):
        if kind.extension_name == "arrow.json":  # datasets' Json feature: already JSON text
            return array.storage.cast(pa.string())
        array = array.storage
        kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return _encode_strings(array.cast(pa.string()))
    if pa.types.is_boolean(kind):
        return pc.if_else(array, "true", "false")
    if pa.types.is_integer(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_struct(kind):
        return _encode_struct(array)
    if (
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or pa.types.is_list_view(kind)
    ):
        return _encode_list(array)
    return _encode_unique_python(array)


def _encode_struct(array: pa.StructArray) -> pa.Array:
    names = [array.type.field(i).name for i in range(array.type.num_fields)]
    children = array.flatten()  # slice-aware, parent validity applied
    parts: list[pa.Array | str] = ["{"]
    order = sorted(range(len(names)), key=lambda i: names[i])
    for position, i in enumerate(order):
        value = pc.fill_null(json_array(children[i]), "null")
        key = ("" if position == 0 else ", ") + JSON_ENCODER.encode(names[i]) + ": "
        parts.extend([key, value])
    parts.append("}")
    # A struct without fields is an empty object on every row.
    text = pa.array(["{}"] * len(array), pa.string()) if len(parts) == 2 else _join(parts)
    if array.null_count:
        text = pc.if_else(array.is_valid(), text, pa.scalar(None, pa.string()))
    return text


def _encode_list(array: pa.Array) -> pa.Array:
    if pa.types.is_fixed_size_list(array.type) or pa.types.is_list_view(array.type):
        array = array.cast(pa.list_(array.type.value_type))
    values = pc.fill_null(json_array(array.flatten()), "null")
    offsets = pc.subtract(array.offsets, array.offsets[0])
    if pa.types.is_large_list(array.type):
        lists = pa.LargeListArray.from_arrays(offsets, values)
    else:
        lists = pa.ListArray.from_arrays(offsets, values)
    text = _join(["[", pc.binary_join(lists, ", "), "]"])
    if array.null_count:
        text = pc.if_else(array.is_valid(), text, pa.scalar(None, pa.string()))
    return text


def json_objects(columns: dict[str, pa.Array | pa.ChunkedArray], size: int) -> pa.Array:
    """One JSON object per row from named columns: keys sorted, null values left out."""
    if not columns:
        return pa.array(["{}"] * size, pa.string())
    parts: list[pa.Array | str] = []
    for name in sorted(columns):
        value = json_array(columns[name])
        fragment = _join([", " + JSON_ENCODER.encode(name) + ": ", value])
        parts.append(pc.fill_null(fragment, ""))
    body = parts[0] if len(parts) == 1 else _join(parts)
    body = pc.utf8_slice_codeunits(body, 2)  # drop the leading ", "
    return _join(["{", body, "}"])


def json_members(table: pa.Table, columns: Sequence[str]) -> pa.Array | None:
    """The passthrough metadata of every row of ``table`` as JSON object members with a leading
    separator (``', "key": value, …'``), column-wise. Null values are left out: an absent key
    and a null mean the same to every reader, and it keeps the metadata of sparse sources small.
    """
    if not columns:
        return None
    parts = []
    for name in sorted(columns):
        value = json_array(table.column(name))
        fragment = _join([", " + JSON_ENCODER.encode(name) + ": ", value])
        parts.append(pc.fill_null(fragment, ""))
    return parts[0] if len(parts) == 1 else _join(parts)
