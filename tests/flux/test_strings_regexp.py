"""The `strings` and `regexp` packages, called through the registry as the interpreter
does (named arguments), plus their conformance vectors end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fluxlab.flux.conformance import evaluate_vector
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import PACKAGES
from fluxlab.flux.stdlib import load_all
from fluxlab.flux.values import Regex

load_all()
VECTORS = Path(__file__).parent / "vectors"


def strings(name: str, **args: Any) -> Any:
    return PACKAGES["strings"][name](None, args)


def regexp(name: str, **args: Any) -> Any:
    return PACKAGES["regexp"][name](None, args)


def rx(pattern: str) -> Regex:
    return regexp("compile", v=pattern)


# ---------------------------------------------------------------------- strings


@pytest.mark.parametrize(
    ("name", "args", "result"),
    [
        ("toUpper", {"v": "LoLlErCaSe"}, "LOLLERCASE"),
        ("toUpper", {"v": "straße"}, "STRAßE"),  # Go maps rune to rune: ß stays
        ("toLower", {"v": "ÀB"}, "àb"),
        ("toTitle", {"v": "loud"}, "LOUD"),
        ("title", {"v": "the little blue truck"}, "The Little Blue Truck"),
        ("title", {"v": "hello-world foo_bar x.y"}, "Hello-World Foo_bar X.Y"),
        ("title", {"v": "éa ıb"}, "Éa Ib"),
        ("trim", {"v": "..abc..", "cutset": "."}, "abc"),
        ("trimLeft", {"v": "..abc..", "cutset": "."}, "abc.."),
        ("trimRight", {"v": "..abc..", "cutset": "."}, "..abc"),
        ("trimSpace", {"v": " \t abc \n"}, "abc"),
        ("trimPrefix", {"v": "prefix_abc", "prefix": "prefix_"}, "abc"),
        ("trimPrefix", {"v": "abc", "prefix": "x"}, "abc"),
        ("trimSuffix", {"v": "abc_suffix", "suffix": "_suffix"}, "abc"),
        ("replace", {"v": "This sucks. Everything sucks.", "t": "sucks", "u": "is fine", "i": 1},
         "This is fine. Everything sucks."),
        ("replace", {"v": "aaaa", "t": "a", "u": "b", "i": -1}, "bbbb"),
        ("replace", {"v": "aaaa", "t": "a", "u": "b", "i": 0}, "aaaa"),
        ("replaceAll", {"v": "a-b-c", "t": "-", "u": "+"}, "a+b+c"),
        ("repeat", {"v": "ab", "i": 3}, "ababab"),
        ("split", {"v": "a,b,c", "t": ","}, ["a", "b", "c"]),
        ("split", {"v": "abc", "t": ""}, ["a", "b", "c"]),
        ("split", {"v": "", "t": ","}, [""]),
        ("splitN", {"v": "a,b,c", "t": ",", "i": 2}, ["a", "b,c"]),
        ("splitN", {"v": "a,b,c", "t": ",", "i": 0}, []),
        ("splitN", {"v": "a,b,c", "t": ",", "i": -1}, ["a", "b", "c"]),
        ("splitN", {"v": "abcd", "t": "", "i": 2}, ["a", "bcd"]),
        ("splitAfter", {"v": "a,b,c", "t": ","}, ["a,", "b,", "c"]),
        ("splitAfterN", {"v": "a,b,c", "t": ",", "i": 2}, ["a,", "b,c"]),
        ("joinStr", {"arr": ["a", "b", "c"], "v": ", "}, "a, b, c"),
        ("containsStr", {"v": "hello", "substr": "ell"}, True),
        ("containsStr", {"v": "hello", "substr": "xyz"}, False),
        ("containsAny", {"v": "hello", "chars": "xyzo"}, True),
        ("containsAny", {"v": "hello", "chars": ""}, False),
        ("hasPrefix", {"v": "hello", "prefix": "he"}, True),
        ("hasSuffix", {"v": "hello", "suffix": "he"}, False),
        ("countStr", {"v": "cheese", "substr": "e"}, 3),
        ("countStr", {"v": "five", "substr": ""}, 5),
        ("countStr", {"v": "aaaa", "substr": "aa"}, 2),
        ("index", {"v": "chicken", "substr": "ken"}, 4),
        ("index", {"v": "chicken", "substr": "dmr"}, -1),
        ("index", {"v": "日本語", "substr": "語"}, 6),  # UTF-8 byte offset, as in Go
        ("lastIndex", {"v": "go gopher", "substr": "go"}, 3),
        ("indexAny", {"v": "golang", "chars": "ny"}, 4),
        ("lastIndexAny", {"v": "go gopher", "chars": "go"}, 4),
        ("lastIndexAny", {"v": "abc", "chars": "xyz"}, -1),
        ("compare", {"v": "a", "t": "b"}, -1),
        ("compare", {"v": "b", "t": "a"}, 1),
        ("compare", {"v": "a", "t": "a"}, 0),
        ("equalFold", {"v": "Go", "t": "GO"}, True),
        ("equalFold", {"v": "Go", "t": "Ga"}, False),
        ("strlen", {"v": "日本語"}, 3),
        ("strlen", {"v": ""}, 0),
        ("substring", {"v": "influx", "start": 0, "end": 3}, "inf"),
        ("substring", {"v": "influx", "start": -5, "end": 100}, "influx"),
        ("substring", {"v": "influx", "start": 4, "end": 2}, ""),
        ("substring", {"v": "日本語", "start": 1, "end": 2}, "本"),
        ("isDigit", {"v": "7"}, True),
        ("isDigit", {"v": "a"}, False),
        ("isLetter", {"v": "é"}, True),
        ("isLetter", {"v": "1"}, False),
        ("isLower", {"v": "a"}, True),
        ("isLower", {"v": "A"}, False),
        ("isUpper", {"v": "A"}, True),
        ("isUpper", {"v": "1"}, False),
    ],
)  # fmt: skip
def test_strings_functions(name: str, args: dict[str, Any], result: Any) -> None:
    assert strings(name, **args) == result


@pytest.mark.parametrize(
    "name",
    ["toUpper", "toLower", "title", "trimSpace", "strlen", "isDigit"],
)
def test_null_input_gives_null(name: str) -> None:
    assert strings(name, v=None) is None


def test_strings_type_errors_name_the_function_and_parameter() -> None:
    with pytest.raises(FluxTypeError, match="strings.toUpper: v must be a string, got int"):
        strings("toUpper", v=1)
    with pytest.raises(FluxTypeError, match="strings.repeat: i must be an int, got string"):
        strings("repeat", v="a", i="2")
    with pytest.raises(FluxTypeError, match="strings.joinStr: arr must be an array"):
        strings("joinStr", arr="abc", v=",")


def test_single_character_functions_reject_longer_strings() -> None:
    with pytest.raises(FluxRuntimeError, match="single character"):
        strings("isDigit", v="42")


def test_missing_argument_is_reported_by_signature() -> None:
    fn = PACKAGES["strings"]["replace"]
    assert fn.required == frozenset({"v", "t", "u", "i"})


# ---------------------------------------------------------------------- regexp


def test_compile_and_get_string() -> None:
    r = rx(r"^a\d+$")
    assert isinstance(r, Regex)
    assert regexp("getString", r=r) == r"^a\d+$"
    with pytest.raises(FluxRuntimeError, match="invalid regular expression"):
        rx("(unclosed")


@pytest.mark.parametrize(
    ("name", "args", "result"),
    [
        ("matchRegexpString", {"r": r"(gopher){2}", "v": "gophergophergopher"}, True),
        ("matchRegexpString", {"r": r"^x", "v": "axe"}, False),
        ("findString", {"r": r"foo.?", "v": "seafood fool"}, "food"),
        ("findString", {"r": r"z+", "v": "abc"}, ""),
        ("findStringIndex", {"r": r"ab?", "v": "tablett"}, [1, 3]),
        ("findStringIndex", {"r": r"z", "v": "abc"}, []),
        ("findStringIndex", {"r": r"語", "v": "日本語"}, [6, 9]),
        ("replaceAllString", {"r": r"a(x*)b", "v": "-ab-axxb-", "t": "T"}, "-T-T-"),
        ("replaceAllString", {"r": r"a(x*)b", "v": "-ab-axxb-", "t": "$1"}, "--xx-"),
        ("replaceAllString", {"r": r"a(x*)b", "v": "-ab-axxb-", "t": "$1W"}, "---"),
        ("replaceAllString", {"r": r"a(x*)b", "v": "-ab-axxb-", "t": "${1}W"}, "-W-xxW-"),
        ("replaceAllString", {"r": r"a(?P<x>x*)b", "v": "-axb-", "t": "[${x}]$$"}, "-[x]$-"),
        ("replaceAllString", {"r": r"a*", "v": "baaac", "t": "X"}, "XbXcX"),
        ("splitRegexp", {"r": r"a", "v": "banana", "i": -1}, ["b", "n", "n", ""]),
        ("splitRegexp", {"r": r"a", "v": "banana", "i": 2}, ["b", "nana"]),
        ("splitRegexp", {"r": r"a", "v": "banana", "i": 0}, []),
        ("splitRegexp", {"r": r"z+", "v": "pizza", "i": -1}, ["pi", "a"]),
        ("splitRegexp", {"r": r"\s+", "v": "", "i": -1}, [""]),
        ("splitRegexp", {"r": r"", "v": "abc", "i": -1}, ["a", "b", "c"]),
        ("splitRegexp", {"r": r"a*", "v": "abaabaccadaaae", "i": 5},
         ["", "b", "b", "c", "cadaaae"]),
    ],
)
def test_regexp_functions_follow_go(name: str, args: dict[str, Any], result: Any) -> None:
    args = {**args, "r": rx(args["r"])}
    assert regexp(name, **args) == result


def test_quote_meta_escapes_exactly_re2_metacharacters() -> None:
    assert regexp("quoteMeta", v=r"Escaping $5 [a-z]+ & #1") == r"Escaping \$5 \[a-z\]\+ & #1"
    quoted = regexp("quoteMeta", v="1.5*(x)?")
    assert regexp("matchRegexpString", r=rx("^" + quoted + "$"), v="1.5*(x)?") is True


def test_regexp_type_errors() -> None:
    with pytest.raises(FluxTypeError, match="regexp.findString: r must be a regexp, got string"):
        regexp("findString", r="a", v="abc")
    with pytest.raises(FluxTypeError, match="regexp.compile: v must be a string"):
        regexp("compile", v=1)


# ---------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    "path",
    sorted(VECTORS.glob("strings_*.json"))
    + [VECTORS / "universe_filter_by_regex_compile__filter_by_regex_compile.json"],
    ids=lambda p: p.stem,
)
def test_strings_and_regexp_vectors_pass(path: Path) -> None:
    vector = json.loads(path.read_text(encoding="utf-8"))
    assert evaluate_vector(vector) == []
