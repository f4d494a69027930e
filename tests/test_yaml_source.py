"""Reading YAML: the direct construction of documents without aliases gives PyYAML's data, a
document with an alias always goes through the alias measure, nesting is bounded while
composing, repeated keys are still found, and the cycle collector is given back as it was."""

from __future__ import annotations

import gc
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget_exporter.config.loader import may_name_variables, parse_config
from budget_exporter.config.yaml_source import (
    _Loader,
    collection_paused,
    duplicate_keys,
    parse_yaml,
)
from budget_exporter.model.errors import ConfigError
from budget_exporter.model.yamlguard import (
    MAX_DEPTH,
    NestingLimit,
    YamlRefused,
)

EXAMPLES = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
PROVIDERS = "providers:\n  billing: {type: csv, paths: [costs.csv]}\n"


class _PythonLoader(NestingLimit, yaml.SafeLoader):
    """The pure-Python composer, as used where libyaml is missing."""


def pyyaml_data(text: str) -> Any:
    """What PyYAML's own constructor makes of ``text`` with the project's loader."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()


def shape(value: Any) -> Any:
    """``value`` with the type of every part, so that 1, 1.0 and True differ."""
    if isinstance(value, dict):
        return ("dict", [(shape(key), shape(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [shape(item) for item in value])
    if isinstance(value, float) and value != value:
        return ("float", "nan")
    return (type(value).__name__, value)


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: 1.5\nc: yes\nd: ~\ne: 2024-09-01\nf: 2024-02-30\ng: '1'\nh: 0x1F\n",
        "i: 1_000\nj: .inf\nk: 2024-09-01T10:00:00Z\nl: -.NaN\nm: !!str 12\nn: 0o17\no: 1:30\n",
        "l: [1, [2, {m: n}], [], {}]\np: |\n  two\n  lines\nq: >\n  folded\n  text\n",
        "{1: a, true: b, null: c, 2024-01-01: d, 1.5: e}",
        "- a\n- [b, c]\n- {d: e}\n- !!int '7'\n- !!float '2'\n- !!bool 'on'\n- !!null ''\n",
        "plain: text with R&D in it\nurl: https://example.com/?a=1&b=2\n",
        "",
        "just a scalar",
    ],
    ids=[
        "numbers, booleans, null, dates and an impossible date",
        "underscores, infinity, NaN, times, tags and sexagesimal",
        "nested collections and block scalars",
        "keys that are not text",
        "a sequence at the top with explicit tags",
        "an ampersand inside plain scalars",
        "an empty document",
        "a lone scalar",
    ],
)
def test_a_document_without_aliases_gives_the_data_pyyaml_gives(text: str) -> None:
    assert shape(parse_yaml(text).data) == shape(pyyaml_data(text))


@pytest.mark.parametrize(
    "text",
    [
        "base: {a: 1}\nother:\n  <<: {a: 2, b: 3}\n  a: 4\n",
        "!!set {a, b}",
        "!!binary aGVsbG8=",
        "!!omap [a: 1, b: 2]",
        "!!pairs [a: 1, a: 2]",
        "a: !!map {b: 1}\nc: !!seq [1]\n",
    ],
    ids=["a merge key", "a set", "binary", "an ordered map", "pairs", "explicit map and seq"],
)
def test_tags_the_direct_construction_leaves_to_pyyaml_give_its_data(text: str) -> None:
    assert shape(parse_yaml(text).data) == shape(pyyaml_data(text))


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("? [a, b]\n: c\n", "found unhashable key"),
        ("a: !!python/object:os.system x\n", "could not determine a constructor"),
        ("a: !!str [1]\n", "expected a scalar node"),
        ("a: !!map [1]\n", "expected a mapping node"),
    ],
    ids=["a list as a key", "a python tag", "a string tag on a list", "a map tag on a list"],
)
def test_documents_pyyaml_refuses_are_refused_with_its_error(text: str, error: str) -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match=error) as caught:
        parse_yaml(text)
    assert caught.value.problem_mark is not None


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.dates().map(str),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=4)
    ),
    max_leaves=30,
)


@EXAMPLES
@given(json_like, st.sampled_from([None, True, False]))
def test_any_dumped_data_reads_back_as_pyyaml_reads_it(value: Any, flow: bool | None) -> None:
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    assert shape(parse_yaml(text).data) == shape(pyyaml_data(text))


@pytest.mark.parametrize(
    ("text", "nodes"),
    [
        ("a: [1, {b: 2}]\n", 7),
        ("a: &x [1, 2]\nb: *x\n", 6),
        ("a: &x [1, 2]\n", 5),
        ("x", 1),
    ],
    ids=["a tree", "an alias is not composed again", "an anchor alone", "a lone scalar"],
)
def test_the_composer_counts_each_node_it_composes_once(text: str, nodes: int) -> None:
    for loader in (_Loader(text), _PythonLoader(text)):
        loader.get_single_node()
        assert loader.nodes_composed == nodes


@pytest.mark.parametrize(
    ("text", "first", "second"),
    [
        ("a: &x {b: [1, 2]}\nc: *x\n", ("a",), ("c",)),
        ("- &x [1]\n- [*x, *x]\n", (0,), (1, 1)),
        ("a: &x [1]\nb: [*x]\n", ("a",), ("b", 0)),
        ("base: &b {c: [1]}\nother: {<<: *b, d: 2}\n", ("base", "c"), ("other", "c")),
    ],
    ids=["an aliased mapping", "a sequence aliased twice", "an aliased list", "a merge"],
)
def test_a_document_with_aliases_gives_pyyaml_data_and_its_shared_objects(
    text: str, first: tuple[Any, ...], second: tuple[Any, ...]
) -> None:
    data = parse_yaml(text).data
    assert shape(data) == shape(pyyaml_data(text))

    def at(path: tuple[Any, ...]) -> Any:
        value = data
        for part in path:
            value = value[part]
        return value

    assert at(first) is at(second)  # one object, as PyYAML's constructor shares it


def test_an_anchor_without_an_alias_builds_the_data_directly() -> None:
    text = "a: &x {b: [1, 2]}\nc: {b: [1, 2]}\n"
    document = parse_yaml(text)
    assert shape(document.data) == shape(pyyaml_data(text))
    assert not document.repeated_keys  # only the direct construction tells


def bomb(layout: str) -> str:
    """Eight levels of ten values each: the seventh (l6) expands to 11,111,111 values."""
    levels = []
    for level in range(8):
        items = ", ".join(["x" if level == 0 else f"*l{level - 1}"] * 10)
        levels.append(
            {
                "mapping": f"l{level}: &l{level} [{items}]",
                "sequence": f"- &l{level} [{items}]",
                "flow": f"&l{level} [{items}]",
                "tag": f"l{level}: !!seq &l{level} [{items}]",
            }[layout]
        )
    return f"[{','.join(levels)}]\n" if layout == "flow" else "\n".join(levels) + "\n"


@pytest.mark.parametrize(
    ("layout", "line"),
    [("mapping", 7), ("sequence", 7), ("flow", 1), ("tag", 7)],
    ids=["in a mapping", "in a sequence", "after a flow comma", "after a tag"],
)
def test_an_alias_bomb_is_refused_at_its_line_wherever_its_anchors_sit(
    layout: str, line: int
) -> None:
    text = bomb(layout)
    with pytest.raises(YamlRefused, match="an alias bomb") as caught:
        parse_yaml(text)
    assert caught.value.problem_mark.line + 1 == line


def test_an_alias_bomb_in_a_config_is_a_config_error_with_its_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(PROVIDERS + bomb("mapping"), "bomb.yml")
    (problem,) = caught.value.problems
    assert (problem.file, problem.line) == ("bomb.yml", 9)
    assert "an alias bomb" in problem.message


def nested(levels: int) -> str:
    return "[" * (levels - 1) + "x" + "]" * (levels - 1)


@pytest.mark.parametrize("loader", [_Loader, _PythonLoader], ids=["libyaml", "pure Python"])
def test_nesting_is_bounded_while_composing(loader: type) -> None:
    # The root is level 1: MAX_DEPTH levels pass, one more is refused at the innermost list.
    text = "a:\n  b: " + nested(MAX_DEPTH - 2) + "\n"
    assert loader(text).get_single_node() is not None
    with pytest.raises(YamlRefused, match=f"nests deeper than {MAX_DEPTH} levels") as caught:
        loader("a:\n  b: " + nested(MAX_DEPTH - 1) + "\n").get_single_node()
    mark = caught.value.problem_mark
    assert (mark.line, mark.column) == (1, 5 + MAX_DEPTH - 3)


@pytest.mark.parametrize(
    "text",
    [
        f"a: &a {nested(MAX_DEPTH // 2 + 1)}\nb: {'[' * 33}*a{']' * 33}\n",
        f"a: &s x\nb: {'[' * (MAX_DEPTH - 1)}*s{']' * (MAX_DEPTH - 1)}\n",
    ],
    ids=["an aliased list", "an aliased scalar one level too deep"],
)
def test_nesting_reached_through_aliases_is_still_measured(text: str) -> None:
    with pytest.raises(YamlRefused, match="nests deeper"):
        parse_yaml(text)


def test_a_list_that_contains_itself_is_refused_at_its_line() -> None:
    with pytest.raises(YamlRefused, match="an alias refers to a node that contains it") as caught:
        parse_yaml("a: 1\nb: &b [1, [*b]]\n")
    assert caught.value.problem_mark.line + 1 == 2


@pytest.mark.parametrize(
    ("text", "duplicates"),
    [
        ("a: 1\nb: {c: 1, c: 2}\n", [("b.c", "key given twice; only one may stay")]),
        ("{1: a, '1': b}", [("1", "key given twice; only one may stay")]),
        ("a: &x {c: 1, c: 2}\nb: *x\n", [("a.c", "key given twice; only one may stay")]),
        ("a: {yes: 1, true: 2}\n", []),
        ("base: &b {c: 1}\na: {<<: *b, c: 2}\n", []),
    ],
    ids=[
        "a nested key given twice",
        "one text, a number and a string",
        "a key given twice in an anchored mapping",
        "two spellings of one boolean are two keys",
        "a key overriding a merge",
    ],
)
def test_every_repeated_key_is_found(text: str, duplicates: list[tuple[str, str]]) -> None:
    document = parse_yaml(text)
    assert document.repeated_keys
    assert duplicate_keys(document.node, ()) == duplicates


def test_a_document_without_repeated_keys_skips_the_duplicate_walk() -> None:
    document = parse_yaml("a: {b: 1, c: [d, {e: 2}]}\nf: {1: x, 2: y}\n")
    assert not document.repeated_keys


def test_a_key_given_twice_as_a_number_and_a_string_is_a_config_error() -> None:
    budget = "{name: b, amount: 1, period: monthly, labels: {1: a, '1': b}}"
    text = PROVIDERS + f"budgets:\n  - {budget}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "dup.yml")
    found = [(p.path, p.line) for p in caught.value.problems if "given twice" in p.message]
    assert found == [("budgets[0].labels.1", 4)]


@pytest.mark.parametrize(
    ("text", "maybe"),
    [
        ('a: "${HOME}"\n', True),
        ('a: "\\x24{HOME}"\n', True),
        ('a: "\\u0024{HOME}"\n', True),
        ('a: "\\U00000024{HOME}"\n', True),
        ('a: "\\t{HOME}"\n', False),
        ("a: {HOME}\n", False),
    ],
    ids=["a dollar", "a hex escape", "a 16-bit escape", "a 32-bit escape", "a tab", "no dollar"],
)
def test_every_text_that_can_name_a_variable_is_expanded(text: str, maybe: bool) -> None:
    assert may_name_variables(text) is maybe
    if maybe:
        assert "${HOME}" in str(yaml.safe_load(text))


def test_a_variable_written_with_an_escaped_dollar_is_expanded(monkeypatch) -> None:
    monkeypatch.delenv("BUDGET_EXPORTER_TEST_UNSET", raising=False)
    text = PROVIDERS + 'state_dir: "\\x24{BUDGET_EXPORTER_TEST_UNSET}"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "env.yml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("state_dir", 3)
    assert problem.message == "environment variable BUDGET_EXPORTER_TEST_UNSET is not set"


def test_the_cycle_collector_is_given_back_after_a_load_and_a_refusal() -> None:
    assert gc.isenabled()
    parse_config(PROVIDERS)
    assert gc.isenabled()
    with pytest.raises(ConfigError):
        parse_config(PROVIDERS + "budgets: [{name: b}]\n")
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # whoever held it still holds it
    finally:
        gc.enable()


def test_a_config_sharing_a_filter_by_alias_reads_as_if_written_out() -> None:
    shared = PROVIDERS + (
        "budgets:\n"
        "  - {name: a, amount: 1, period: monthly, filter: &web {team: [web], env: prod}}\n"
        "  - {name: b, amount: 2, period: monthly, filter: *web}\n"
    )
    written = shared.replace("&web ", "").replace("*web", "{team: [web], env: prod}")
    assert parse_config(shared) == parse_config(written)
    assert parse_config(shared).budgets[1].filter == {"team": ("web",), "env": ("prod",)}
