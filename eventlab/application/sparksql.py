"""A decider's state SQL, written once for DuckDB, translated for Spark SQL by ``sqlglot``.

``sqlglot`` parses the DuckDB query and writes it in Spark's dialect. A few
DuckDB idioms have no word-for-word Spark twin, so the syntax tree is rewritten
before it is written out, each rule keeping the meaning:

- ``json_extract_string(data, '$.items[*]')`` (a list) becomes
  ``from_json(get_json_object(data, '$.items'), 'ARRAY<STRING>')``;
- ``from_json(x, '{"a": "VARCHAR", ...}')`` gets its structure as a Spark schema;
- ``list(x ORDER BY k)`` becomes the ``x`` of the sorted ``collect_list(struct(k, x))``
  (Spark's ``collect_list`` keeps no order);
- two ``unnest``s side by side, ``unnest(generate_series(1, len(xs))) AS i, unnest(xs) AS x``,
  become one ``inline`` of ``(i, x)`` pairs (Spark allows one generator per SELECT);
- ``agg(...) FILTER (WHERE c) OVER (...)`` becomes ``agg(CASE WHEN c THEN ... END) OVER (...)``
  (Spark filters aggregates, not window aggregates; both skip NULLs alike).

A query with any other DuckDB idiom Spark lacks fails in Spark with Spark's own
message; the tests run the shop's state SQL both ways on random logs.
"""

from __future__ import annotations

import json

import sqlglot
from sqlglot import exp

_SPARK_TYPES = {"VARCHAR": "STRING", "BIGINT": "BIGINT", "INTEGER": "INT", "DOUBLE": "DOUBLE",
                "BOOLEAN": "BOOLEAN", "TIMESTAMPTZ": "TIMESTAMP"}


def to_spark(duckdb_sql: str, rename: dict[str, str] | None = None) -> str:
    """The Spark SQL of a DuckDB query; ``rename`` renames tables (e.g. ``stream_events`` to a view)."""
    tree = sqlglot.parse_one(duckdb_sql, read="duckdb")
    for table in tree.find_all(exp.Table):
        if rename and table.name in rename:
            table.set("this", exp.to_identifier(rename[table.name]))
    tree = tree.transform(_list_extract).transform(_struct_from_json).transform(_ordered_list)
    tree = tree.transform(_window_filter).transform(_paired_unnest)
    return tree.sql(dialect="spark", pretty=True)


def _list_extract(node: exp.Expression) -> exp.Expression:
    if not isinstance(node, exp.JSONExtractScalar) or not isinstance(node.expression, exp.JSONPath):
        return node
    parts = node.expression.expressions
    if not (parts and isinstance(parts[-1], exp.JSONPathSubscript)
            and isinstance(parts[-1].this, exp.JSONPathWildcard)):
        return node
    path = exp.JSONPath(expressions=parts[:-1]).sql(dialect="spark").strip("'")
    return sqlglot.parse_one(
        f"from_json(get_json_object(x, '{path}'), 'ARRAY<STRING>')", read="spark"
    ).transform(lambda n: node.this.copy() if isinstance(n, exp.Column) and n.name == "x" else n)


def _spark_type(duck: object) -> str:
    if isinstance(duck, list):
        return f"ARRAY<{_spark_type(duck[0])}>"
    if isinstance(duck, dict):
        return "STRUCT<" + ", ".join(f"`{k}`: {_spark_type(v)}" for k, v in duck.items()) + ">"
    return _SPARK_TYPES[str(duck).upper()]


def _struct_from_json(node: exp.Expression) -> exp.Expression:
    structure = node.expression if isinstance(node, exp.FromJson) else None
    if not (isinstance(structure, exp.Literal) and structure.is_string):
        return node
    try:
        spec = json.loads(structure.this)
    except ValueError:
        return node
    if not isinstance(spec, dict):
        return node
    ddl = ", ".join(f"`{name}` {_spark_type(kind)}" for name, kind in spec.items())
    return exp.Anonymous(this="FROM_JSON", expressions=[node.this.copy(), exp.Literal.string(ddl)])


def _ordered_list(node: exp.Expression) -> exp.Expression:
    if not (isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Order)):
        return node
    value, keys = node.this.this, [ordered.this for ordered in node.this.expressions]
    if any(ordered.args.get("desc") for ordered in node.this.expressions):
        return node  # descending keys: left to Spark to refuse, not guessed at
    fields = [exp.Literal.string(f"k{i}") for i in range(len(keys))] + [exp.Literal.string("v")]
    struct = exp.Anonymous(this="NAMED_STRUCT", expressions=[
        part for pair in zip(fields, [*keys, value]) for part in (pair[0], pair[1].copy())])
    collected = exp.Anonymous(this="ARRAY_SORT", expressions=[
        exp.Anonymous(this="COLLECT_LIST", expressions=[struct])])
    return sqlglot.parse_one("TRANSFORM(xs, s -> s.v)", read="spark").transform(
        lambda n: collected if isinstance(n, exp.Column) and n.name == "xs" else n)


def _window_filter(node: exp.Expression) -> exp.Expression:
    if not (isinstance(node, exp.Window) and isinstance(node.this, exp.Filter)):
        return node
    aggregate, condition = node.this.this, node.this.expression.this
    aggregate = aggregate.copy()
    argument = aggregate.this
    value = exp.Literal.number(1) if isinstance(argument, exp.Star) else argument
    aggregate.set("this", exp.Case(ifs=[exp.If(this=condition.copy(), true=value.copy())]))
    node = node.copy()
    node.set("this", aggregate)
    return node


def _paired_unnest(node: exp.Expression) -> exp.Expression:
    """``unnest(generate_series(1, len(xs))) AS i, unnest(xs) AS x`` -> ``inline(...) AS (i, x)``."""
    if not isinstance(node, exp.Select):
        return node
    series = lists = None
    for projection in node.expressions:
        if isinstance(projection, exp.Alias) and isinstance(projection.this, exp.Explode):
            inner = projection.this.this
            if isinstance(inner, exp.GenerateSeries):
                series = projection
            else:
                lists = projection
    if series is None or lists is None:
        return node
    xs = lists.this.this
    pairs = sqlglot.parse_one(
        f"INLINE(TRANSFORM(xs, (x, i) -> NAMED_STRUCT('{series.alias}', i + 1, '{lists.alias}', x)))",
        read="spark").transform(lambda n: xs.copy() if isinstance(n, exp.Column) and n.name == "xs" else n)
    generator = exp.Aliases(this=pairs, expressions=[exp.to_identifier(series.alias),
                                                     exp.to_identifier(lists.alias)])
    projections = [generator if p is series else p.copy() for p in node.expressions if p is not lists]
    node = node.copy()
    node.set("expressions", projections)
    return node
