"""Parser tests: AST shape and positions for every construct, precedence, errors, vectors."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from fluxlab.flux import ast
from fluxlab.flux.errors import FluxSyntaxError
from fluxlab.flux.parser import MAX_DEPTH, parse, parse_expression

REPO = Path(__file__).resolve().parents[2]
VECTOR_DIRS = [REPO / "tests/flux/vectors", REPO.parent / "shared/flux-conformance/vectors"]

I = ast.Identifier  # noqa: E741
Int = ast.IntegerLiteral
Str = ast.StringLiteral


def B(op: str, left: ast.Expression, right: ast.Expression) -> ast.BinaryExpression:
    return ast.BinaryExpression(op, left, right)


def L(op: str, left: ast.Expression, right: ast.Expression) -> ast.LogicalExpression:
    return ast.LogicalExpression(op, left, right)


def U(op: str, arg: ast.Expression) -> ast.UnaryExpression:
    return ast.UnaryExpression(op, arg)


def call(callee: ast.Expression, **args: ast.Expression | None) -> ast.CallExpression:
    props = [ast.Property(I(k), v) for k, v in args.items()]
    return ast.CallExpression(callee, ast.ObjectExpression(props) if args else None)


def member(obj: ast.Expression | str, *props: str) -> ast.Expression:
    expr = I(obj) if isinstance(obj, str) else obj
    for prop in props:
        expr = ast.MemberExpression(expr, prop)
    return expr


def pos(node: ast.Node) -> tuple[int, int]:
    return node.line, node.column


# ---------------------------------------------------------------------- program structure


def test_package_imports_and_aliases() -> None:
    f = parse('package main\nimport "array"\nimport s "strings"\nimport "influxdata/influxdb/schema"')
    assert f.package == "main"
    assert f.imports == [
        ast.ImportDeclaration("array"),
        ast.ImportDeclaration("strings", "s"),
        ast.ImportDeclaration("influxdata/influxdb/schema"),
    ]
    assert [i.name for i in f.imports] == ["array", "s", "schema"]
    assert [pos(i) for i in f.imports] == [(2, 1), (3, 1), (4, 1)]
    assert f.body == []


def test_empty_program() -> None:
    assert parse("") == ast.File(None, [], [])
    assert parse("// nothing\n") == ast.File(None, [], [])


def test_option_statements() -> None:
    f = parse(
        "option now = () => 2030-01-01T00:00:00Z\n"
        'option location = timezone.location(name: "America/New_York")\n'
        'option geo.units = {distance: "mile"}\n'
    )
    now, location, units = f.body
    assert now == ast.OptionStatement(
        ast.VariableAssignment(
            I("now"),
            ast.FunctionExpression([], ast.DateTimeLiteral(1893456000 * 10**9, "2030-01-01T00:00:00Z")),
        )
    )
    assert isinstance(location.assignment, ast.VariableAssignment)
    assert location.assignment.init == call(
        member("timezone", "location"), name=Str("America/New_York")
    )
    assert units == ast.OptionStatement(
        ast.MemberAssignment(
            member("geo", "units"),
            ast.ObjectExpression([ast.Property(I("distance"), Str("mile"))]),
        )
    )
    assert [pos(s) for s in f.body] == [(1, 1), (2, 1), (3, 1)]
    assert pos(units.assignment.member) == (3, 8)


def test_variable_assignment_and_expression_statements() -> None:
    f = parse('x = 1\ny = "a"\nx |> yield()\n')
    assert f.body == [
        ast.VariableAssignment(I("x"), Int(1)),
        ast.VariableAssignment(I("y"), Str("a")),
        ast.ExpressionStatement(ast.PipeExpression(I("x"), call(I("yield")))),
    ]
    assert pos(f.body[1].init) == (2, 5)
    assert pos(f.body[2]) == (3, 1)


def test_statements_need_no_separator() -> None:
    f = parse("a = 1 b = 2 c = a + b")
    assert [s.id.name for s in f.body] == ["a", "b", "c"]


def test_builtin_statement_keeps_type_text() -> None:
    f = parse(
        "builtin from : (bucket: string, ?start: time) => stream[A]\n"
        "    where A: Record\n"
        "builtin pi : float\n"
        "x = 1\n"
    )
    b1, b2, x = f.body
    assert b1 == ast.BuiltinStatement(
        I("from"), "(bucket: string, ?start: time) => stream[A]\n    where A: Record"
    )
    assert b2 == ast.BuiltinStatement(I("pi"), "float")
    assert x == ast.VariableAssignment(I("x"), Int(1))


def test_testcase_blocks() -> None:
    f = parse(
        'testcase count_it extends "flux/planner/group_test.group_one" {\n'
        "    got = 1\n"
        "    testing.diff(got, want: 1)\n"
        "}\n"
        "testcase plain { }\n"
    )
    tc, plain = f.body
    assert isinstance(tc, ast.TestCaseStatement)
    assert tc.id == I("count_it")
    assert tc.extends == "flux/planner/group_test.group_one"
    assert tc.block.body == [
        ast.VariableAssignment(I("got"), Int(1)),
        ast.ExpressionStatement(
            ast.CallExpression(
                member("testing", "diff"),
                ast.ObjectExpression(
                    [ast.Property(I("got")), ast.Property(I("want"), Int(1))]
                ),
            )
        ),
    ]
    assert plain == ast.TestCaseStatement(I("plain"), ast.Block([]))
    assert pos(tc.block) == (1, 63)


def test_return_in_block_body() -> None:
    expr = parse_expression("(r) => {\n  x = r._value * 2\n  return {r with _value: x}\n}")
    assert isinstance(expr, ast.FunctionExpression)
    assert isinstance(expr.body, ast.Block)
    assign, ret = expr.body.body
    assert assign == ast.VariableAssignment(I("x"), B("*", member("r", "_value"), Int(2)))
    assert ret == ast.ReturnStatement(
        ast.ObjectExpression([ast.Property(I("_value"), I("x"))], with_=I("r"))
    )
    assert pos(ret) == (3, 3)
    assert pos(ret.argument) == (3, 10)


# ---------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("source", "node"),
    [
        ("42", Int(42)),
        ("1.5", ast.FloatLiteral(1.5)),
        ('"hi"', Str("hi")),
        ("true", ast.BooleanLiteral(True)),
        ("false", ast.BooleanLiteral(False)),
        ("1mo1w", ast.DurationLiteral([(1, "mo"), (1, "w")])),
        ("2018-05-22", ast.DateTimeLiteral(1526947200 * 10**9, "2018-05-22")),
        (
            "2018-05-22T19:53:26.000000001-01:00",
            ast.DateTimeLiteral((1527018806 + 3600) * 10**9 + 1, "2018-05-22T19:53:26.000000001-01:00"),
        ),
        ("/a\\/b/", ast.RegexpLiteral("a/b")),
        ("-1h", U("-", ast.DurationLiteral([(1, "h")]))),
        ("+5", U("+", Int(5))),
        ("- -5", U("-", U("-", Int(5)))),
    ],
)
def test_literals(source: str, node: ast.Expression) -> None:
    assert parse_expression(source) == node


def test_string_interpolation_becomes_string_expression() -> None:
    expr = parse_expression('"n=${n + 1}, s=${"x${y}"} \\${z}"')
    assert expr == ast.StringExpression(
        [
            ast.TextPart("n="),
            ast.InterpolatedPart(B("+", I("n"), Int(1))),
            ast.TextPart(", s="),
            ast.InterpolatedPart(
                ast.StringExpression([ast.TextPart("x"), ast.InterpolatedPart(I("y"))])
            ),
            ast.TextPart(" ${z}"),
        ]
    )
    assert [pos(p) for p in expr.parts] == [(1, 2), (1, 4), (1, 12), (1, 16), (1, 26)]
    assert pos(expr.parts[1].expression) == (1, 6)


def test_interpolation_errors_point_inside_the_string() -> None:
    with pytest.raises(FluxSyntaxError) as err:
        parse('x = "a ${b +} c"')
    assert str(err.value) == 'error at 1:13: expected expression but found "}"'
    with pytest.raises(FluxSyntaxError, match='expected "}" but found identifier "c"'):
        parse('x = "a ${b c}"')
    with pytest.raises(FluxSyntaxError, match='expected expression but found "}"'):
        parse('x = "${}"')


def test_arrays_and_dictionaries() -> None:
    assert parse_expression("[1, 2, 3,]") == ast.ArrayExpression([Int(1), Int(2), Int(3)])
    assert parse_expression("[]") == ast.ArrayExpression([])
    assert parse_expression("[:]") == ast.DictExpression([])
    d = parse_expression('["a": 1, "b c": 2,]')
    assert d == ast.DictExpression(
        [ast.DictItem(Str("a"), Int(1)), ast.DictItem(Str("b c"), Int(2))]
    )
    assert [pos(i) for i in d.elements] == [(1, 2), (1, 10)]
    nested = parse_expression("[[1], [2: [3]]]")
    assert nested == ast.ArrayExpression(
        [
            ast.ArrayExpression([Int(1)]),
            ast.DictExpression([ast.DictItem(Int(2), ast.ArrayExpression([Int(3)]))]),
        ]
    )


def test_records() -> None:
    assert parse_expression("{}") == ast.ObjectExpression([])
    rec = parse_expression('{a: 1, "b c": 2, d}')
    assert rec == ast.ObjectExpression(
        [
            ast.Property(I("a"), Int(1)),
            ast.Property(Str("b c"), Int(2)),
            ast.Property(I("d")),
        ]
    )
    assert [p.name for p in rec.properties] == ["a", "b c", "d"]
    assert [pos(p) for p in rec.properties] == [(1, 2), (1, 8), (1, 18)]
    assert parse_expression("{a, b}") == ast.ObjectExpression(
        [ast.Property(I("a")), ast.Property(I("b"))]
    )
    ext = parse_expression("{r with x: 1, y: r.y * 2,}")
    assert ext == ast.ObjectExpression(
        [ast.Property(I("x"), Int(1)), ast.Property(I("y"), B("*", member("r", "y"), Int(2)))],
        with_=I("r"),
    )
    assert pos(ext.with_) == (1, 2)


def test_functions_with_defaults_and_pipe_parameter() -> None:
    fn = parse_expression("(tables=<-, n=1, fn) => tables |> limit(n)")
    assert fn == ast.FunctionExpression(
        [
            ast.Property(I("tables"), ast.PipeLiteral()),
            ast.Property(I("n"), Int(1)),
            ast.Property(I("fn")),
        ],
        ast.PipeExpression(
            I("tables"),
            ast.CallExpression(I("limit"), ast.ObjectExpression([ast.Property(I("n"))])),
        ),
    )
    assert [pos(p) for p in fn.params] == [(1, 2), (1, 13), (1, 18)]
    assert pos(fn.params[0].value) == (1, 9)
    assert parse_expression("() => 1") == ast.FunctionExpression([], Int(1))
    assert parse_expression("(r) => ({r with a: 1})") == ast.FunctionExpression(
        [ast.Property(I("r"))],
        ast.ObjectExpression([ast.Property(I("a"), Int(1))], with_=I("r")),
    )


def test_parenthesised_expression_is_not_a_function() -> None:
    assert parse_expression("(a)") == I("a")
    assert parse_expression("(a) + (b)") == B("+", I("a"), I("b"))
    assert parse_expression("((a, b) => a + b)(a: 1, b: 2)") == ast.CallExpression(
        ast.FunctionExpression(
            [ast.Property(I("a")), ast.Property(I("b"))], B("+", I("a"), I("b"))
        ),
        ast.ObjectExpression([ast.Property(I("a"), Int(1)), ast.Property(I("b"), Int(2))]),
    )


# ---------------------------------------------------------------------- postfix, calls


def test_member_index_and_call_chains() -> None:
    expr = parse_expression('a.b["c d"][0](x: 1).e')
    assert expr == member(
        ast.CallExpression(
            ast.IndexExpression(ast.MemberExpression(member("a", "b"), "c d"), Int(0)),
            ast.ObjectExpression([ast.Property(I("x"), Int(1))]),
        ),
        "e",
    )
    assert pos(expr) == (1, 1)
    assert parse_expression('a["${k}"]') == ast.IndexExpression(
        I("a"), ast.StringExpression([ast.InterpolatedPart(I("k"))])
    )
    assert parse_expression("a[i + 1]") == ast.IndexExpression(I("a"), B("+", I("i"), Int(1)))


def test_calls_take_named_arguments_and_shorthand() -> None:
    assert parse_expression("f()") == call(I("f"))
    assert parse_expression("range(start, stop: 1h,)") == ast.CallExpression(
        I("range"),
        ast.ObjectExpression(
            [ast.Property(I("start")), ast.Property(I("stop"), ast.DurationLiteral([(1, "h")]))]
        ),
    )
    with pytest.raises(FluxSyntaxError, match="expected property name"):
        parse_expression("f(1)")


def test_pipe_forward_chain_positions() -> None:
    expr = parse_expression('from(bucket: "b")\n  |> range(start: -1h)\n  |> count()')
    assert isinstance(expr, ast.PipeExpression)
    assert expr.call == call(I("count"))
    inner = expr.argument
    assert isinstance(inner, ast.PipeExpression)
    assert inner.argument == call(I("from"), bucket=Str("b"))
    assert inner.call == call(I("range"), start=U("-", ast.DurationLiteral([(1, "h")])))
    assert pos(expr) == (1, 1)
    assert pos(expr.call) == (3, 6)
    assert pos(inner.call.arguments.properties[0].value) == (2, 19)


def test_pipe_needs_a_call() -> None:
    with pytest.raises(FluxSyntaxError) as err:
        parse("x = a\n  |> b")
    assert str(err.value) == 'error at 2:6: expected function call after "|>" but found identifier "b"'


# ---------------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("1 + 2 * 3", B("+", Int(1), B("*", Int(2), Int(3)))),
        ("1 * 2 + 3", B("+", B("*", Int(1), Int(2)), Int(3))),
        ("1 - 2 - 3", B("-", B("-", Int(1), Int(2)), Int(3))),
        ("8 / 4 / 2", B("/", B("/", Int(8), Int(4)), Int(2))),
        ("a % b * c", B("*", B("%", I("a"), I("b")), I("c"))),
        ("2 * 3 ^ 2", B("*", Int(2), B("^", Int(3), Int(2)))),
        ("2 ^ 3 ^ 2", B("^", B("^", Int(2), Int(3)), Int(2))),
        ("-2 ^ 2", B("^", U("-", Int(2)), Int(2))),
        ("-a.b", U("-", member("a", "b"))),
        ("(1 + 2) * 3", B("*", B("+", Int(1), Int(2)), Int(3))),
        ("a + b == c * d", B("==", B("+", I("a"), I("b")), B("*", I("c"), I("d")))),
        ("a < b == c", B("==", B("<", I("a"), I("b")), I("c"))),
        ("a =~ /x/ and b !~ /y/", L("and", B("=~", I("a"), ast.RegexpLiteral("x")),
                                   B("!~", I("b"), ast.RegexpLiteral("y")))),
        ("a or b and c", L("or", I("a"), L("and", I("b"), I("c")))),
        ("a and b or c", L("or", L("and", I("a"), I("b")), I("c"))),
        ("not a and b", L("and", U("not", I("a")), I("b"))),
        ("not a == b", U("not", B("==", I("a"), I("b")))),
        ("not not a", U("not", U("not", I("a")))),
        ("exists r.x and r.x > 0", L("and", U("exists", member("r", "x")),
                                    B(">", member("r", "x"), Int(0)))),
        ("a or not b", L("or", I("a"), U("not", I("b")))),
        ("x |> f() + 1", B("+", ast.PipeExpression(I("x"), call(I("f"))), Int(1))),
        ("-x |> f()", ast.PipeExpression(U("-", I("x")), call(I("f")))),
        ("a.b(c: 1).d", member(call(member("a", "b"), c=Int(1)), "d")),
        ("if a then b else c", ast.ConditionalExpression(I("a"), I("b"), I("c"))),
        ("if a or b then 1 + 2 else if c then 3 else 4",
         ast.ConditionalExpression(L("or", I("a"), I("b")), B("+", Int(1), Int(2)),
                                   ast.ConditionalExpression(I("c"), Int(3), Int(4)))),
        ("f(x: if a then b else c)", call(I("f"), x=ast.ConditionalExpression(I("a"), I("b"), I("c")))),
    ],
)  # fmt: skip
def test_precedence(source: str, tree: ast.Expression) -> None:
    assert parse_expression(source) == tree


def test_binary_node_positions_start_at_left_operand() -> None:
    expr = parse_expression("  (a + b)\n * c")
    assert pos(expr) == (1, 4)
    assert pos(expr.right) == (2, 4)
    logical = parse_expression("x and\n  not y")
    assert pos(logical) == (1, 1)
    assert pos(logical.right) == (2, 3)
    cond = parse_expression("if a then b else c")
    assert [pos(cond), pos(cond.test), pos(cond.consequent), pos(cond.alternate)] == [
        (1, 1), (1, 4), (1, 11), (1, 18)
    ]


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = f(a: 1\n  |> g()\n  |> h(", 'error at 3:8: expected property name or ")" but found end of input'),
        ("x = (1 + 2", 'error at 1:11: expected ")" but found end of input'),
        ("x = f(a: 1 |> g()\ny = 2", 'error at 2:1: expected ")" but found identifier "y"'),
        ("x = [1, 2", 'error at 1:10: expected "]" but found end of input'),
        ("x = {a: 1", 'error at 1:10: expected "}" but found end of input'),
        ('x = {"a"}', 'error at 1:9: expected ":" but found "}"'),
        ("x = {1: 2}", 'error at 1:6: expected property name or "}" but found integer "1"'),
        ("x = ", "error at 1:5: expected expression but found end of input"),
        ("x = 1 +", "error at 1:8: expected expression but found end of input"),
        ("x = 1 + not y", 'error at 1:9: expected expression but found "not"'),
        ("if a then b", 'error at 1:12: expected "else" but found end of input'),
        ("if a b else c", 'error at 1:6: expected "then" but found identifier "b"'),
        ("option = 1", 'error at 1:8: expected option name but found "="'),
        ("option a.", 'error at 1:10: expected option name after "." but found end of input'),
        ("import 1", 'error at 1:8: expected import path string but found integer "1"'),
        ('import "a${b}"', "error at 1:8: string interpolation is not allowed here"),
        ("package", "error at 1:8: expected package name but found end of input"),
        ("a.1", 'error at 1:3: expected property name after "." but found integer "1"'),
        ("x = )", 'error at 1:5: expected expression but found ")"'),
        (")", 'error at 1:1: expected statement but found ")"'),
        ("(a, b) => ", "error at 1:11: expected expression but found end of input"),
        ("(a, 1) => a", 'error at 1:5: expected parameter name but found integer "1"'),
        ("(a) => { return a", 'error at 1:18: expected "}" but found end of input'),
        ("testcase { }", 'error at 1:10: expected testcase name but found "{"'),
        ("builtin f :", "error at 1:12: expected type but found end of input"),
        ("x = a[1", 'error at 1:8: expected "]" but found end of input'),
        ("x = 1 ? 2", 'error at 1:7: expected expression but found "?"'),
        ('import "a"\nx = 1\nimport "b"',
         "error at 3:1: import declarations must come before all other statements"),
    ],
)  # fmt: skip
def test_syntax_errors_say_what_was_expected_and_found(source: str, message: str) -> None:
    with pytest.raises(FluxSyntaxError) as err:
        parse(source)
    assert str(err.value) == message
    assert err.value.line is not None and err.value.column is not None


def test_lexer_errors_surface_as_syntax_errors() -> None:
    with pytest.raises(FluxSyntaxError, match="unterminated string"):
        parse('x = "abc')


def test_parse_expression_rejects_trailing_input() -> None:
    with pytest.raises(FluxSyntaxError, match='expected end of input but found identifier "b"'):
        parse_expression("a b")


@pytest.mark.parametrize(
    "deep",
    [
        "x = " + "(" * 500 + "1" + ")" * 500,
        "x = " + "[" * 500 + "]" * 500,
        "x = " + "{a: " * 500 + "1" + "}" * 500,
        "x = " + "f(a: " * 500 + "1" + ")" * 500,
        "x = " + "-" * 5000 + "1",
        "x = " + "not " * 5000 + "a",
        "x = " + "if a then " * 500 + "b" + " else c" * 500,
        "x = " + "() => " * 500 + "1",
    ],
)
def test_deep_nesting_is_a_syntax_error_not_recursion_error(deep: str) -> None:
    with pytest.raises(FluxSyntaxError, match="nesting too deep"):
        parse(deep)


def _stack_depth() -> int:
    frame, depth = sys._getframe(), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1
    return depth


def test_caller_deep_in_its_own_stack_still_gets_a_syntax_error() -> None:
    source = "x = " + "(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    headroom = 60  # far fewer frames than MAX_DEPTH levels of nesting need

    def recurse(n: int) -> ast.File | FluxSyntaxError:
        if n:
            return recurse(n - 1)
        try:
            return parse(source)
        except FluxSyntaxError as err:
            return err

    result = recurse(sys.getrecursionlimit() - _stack_depth() - headroom)
    assert isinstance(result, FluxSyntaxError)
    assert "nesting too deep" in str(result)
    assert isinstance(parse(source), ast.File)  # with a normal stack it parses


def test_moderate_nesting_is_fine() -> None:
    depth = MAX_DEPTH // 2
    expr = parse_expression("(" * depth + "1" + ")" * depth)
    assert expr == Int(1)


# ---------------------------------------------------------------------- conformance vectors


def _vector_files() -> list[Path]:
    files: list[Path] = []
    for directory in VECTOR_DIRS:
        if directory.is_dir():
            files.extend(sorted(directory.glob("*.json")))
    return files


def test_vector_directory_is_present() -> None:
    assert len(list((REPO / "tests/flux/vectors").glob("*.json"))) > 200


@pytest.mark.parametrize("path", _vector_files(), ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_vector_parses(path: Path) -> None:
    vector = json.loads(path.read_text(encoding="utf-8"))
    program = parse(vector["preamble"] + "\n" + vector["setup"])
    assert program.imports, "every vector imports at least one package"
    for key in ("got", "want"):
        query = parse(vector[key])
        assert len(query.body) >= 1
        assert all(isinstance(s, ast.Statement) for s in query.body)


def test_largest_vector_parses_in_milliseconds() -> None:
    sources = []
    for path in _vector_files():
        vector = json.loads(path.read_text(encoding="utf-8"))
        sources.append(vector["preamble"] + "\n" + vector["setup"])
    largest = max(sources, key=len)
    parse(largest)
    started = time.perf_counter()
    parse(largest)
    assert time.perf_counter() - started < 0.1
