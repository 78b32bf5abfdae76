"""The rule language of ``audiokit check``: a tokenizer, a parser and the syntax tree.

A rule is a small expression, parsed by hand (a tokenizer and a recursive-descent
parser; never Python's ``eval``)::

    rule       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | "(" rule ")" | comparison
    comparison := operand OP value | operand ["not"] "in" "(" value ("," value)* ")"
    operand    := COLUMN | "abs" "(" COLUMN ")"
    value      := NUMBER | STRING | WORD | "mode" "(" ")"
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="

- ``COLUMN`` is an ``inspect`` column (:data:`audiokit.inspection.ROW_TYPES`, without
  ``channel`` and ``warnings``); an unknown one is an error naming the close matches.
- Numbers: ``16000``, ``-0.5``, ``1e-3``, ``inf``, ``-inf``. Strings: ``'FLAC'``,
  ``"PCM_16"`` or a bare word (``format == FLAC``); strings compare without regard to
  case, and only with ``==``, ``!=`` and ``in``. Numeric columns take numbers only.
- ``mode()`` is the most common value of the column over all the files checked
  (:mod:`audiokit.checks` evaluates rules, and says what a missing value does).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from audiokit.errors import UsageError
from audiokit.inspection import ROW_TYPES

#: The columns a rule may name, and their types.
COLUMNS: dict[str, str] = {c: t for c, t in ROW_TYPES.items() if c not in ("channel", "warnings")}
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
KEYWORDS = ("and", "or", "not", "in")


# ------------------------------------------------------------------ the syntax tree


@dataclass(frozen=True)
class Mode:
    """``mode()``: the most common value of the compared column over the files."""


Value = float | str | Mode


@dataclass(frozen=True)
class Comparison:
    """``column OP value`` (``op`` may be ``in``/``not in`` with several values)."""

    column: str
    op: str
    values: tuple[Value, ...]
    absolute: bool = False


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    """``and`` or ``or`` over two or more operands."""

    op: str
    operands: tuple[Node, ...]


Node = Comparison | Not | BoolOp


@dataclass(frozen=True)
class Rule:
    """A parsed rule.

    Attributes
    ----------
    text : str
        As written (shown in the report).
    expr : Node
        The syntax tree.
    columns : tuple of str
        The columns it names, in order of appearance.
    mode_columns : tuple of str
        The columns compared with ``mode()`` (the rule waits for every file).
    """

    text: str
    expr: Node
    columns: tuple[str, ...]
    mode_columns: tuple[str, ...]


# ---------------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>[-+]?(?:inf\b|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?))
    | (?P<string>'[^']*'|"[^"]*")
    | (?P<op>==|!=|<=|>=|<|>)
    | (?P<punct>[(),])
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, op, punct, word, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token.

    Raises
    ------
    UsageError
        A character that starts no token (``=``, an unclosed quote, ...).
    """
    tokens: list[Token] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            tokens.append(Token("end", "", pos))
            return tokens
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            hint = " (use == to compare)" if text[pos] == "=" else ""
            raise _error(text, f"unexpected {text[pos]!r} at character {pos + 1}{hint}")
        tokens.append(Token(m.lastgroup, m.group(m.lastgroup), m.start(m.lastgroup)))
        pos = m.end()


def _error(text: str, problem: str) -> UsageError:
    return UsageError(f"rule {text!r}: {problem}")


# ------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the tokens of one rule (the grammar in the module docstring)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.columns: list[str] = []
        self.mode_columns: list[str] = []

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text.lower() == text)

    def expect(self, kind: str, text: str, what: str) -> None:
        if not self.at(kind, text):
            raise self.fail(f"expected {what}")
        self.take()

    def fail(self, problem: str) -> UsageError:
        tok = self.tok
        found = "the end" if tok.kind == "end" else repr(tok.text)
        return _error(self.text, f"{problem}, found {found} at character {tok.pos + 1}")

    # -- grammar
    def parse(self) -> Rule:
        if self.at("end"):
            raise _error(self.text, "empty rule")
        expr = self.or_()
        if not self.at("end"):
            raise self.fail("expected 'and', 'or' or the end of the rule")
        return Rule(self.text, expr, tuple(dict.fromkeys(self.columns)), tuple(self.mode_columns))

    def or_(self) -> Node:
        items = [self.and_()]
        while self.at("word", "or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def and_(self) -> Node:
        items = [self.not_()]
        while self.at("word", "and"):
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def not_(self) -> Node:
        if self.at("word", "not"):
            self.take()
            return Not(self.not_())
        if self.at("punct", "("):
            self.take()
            inner = self.or_()
            self.expect("punct", ")", "')'")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        column, absolute = self.operand()
        if self.at("op"):
            op = self.take().text
            value = self.value(column)
            if isinstance(value, str) and op not in ("==", "!="):
                raise _error(self.text, f"{op} compares numbers; {column} is text")
            return Comparison(column, op, (value,), absolute)
        negated = self.at("word", "not")
        if negated:
            self.take()
        if not self.at("word", "in"):
            raise self.fail(
                f"expected a comparison ({', '.join(COMPARISONS)} or in) after {column}"
            )
        self.take()
        self.expect("punct", "(", "'(' after in")
        values = [self.value(column)]
        while self.at("punct", ","):
            self.take()
            values.append(self.value(column))
        self.expect("punct", ")", "',' or ')'")
        if any(isinstance(v, Mode) for v in values):
            raise _error(self.text, "mode() compares with ==, !=, <, ... not in a list")
        return Comparison(column, "not in" if negated else "in", tuple(values), absolute)

    def operand(self) -> tuple[str, bool]:
        if not self.at("word") or self.tok.text.lower() in KEYWORDS:
            raise self.fail("expected a column name")
        word = self.take().text
        if word.lower() == "abs" and self.at("punct", "("):
            self.take()
            column = self.column(self.take_word())
            if COLUMNS[column] == "string":
                raise _error(self.text, f"abs() takes a number; {column} is text")
            self.expect("punct", ")", "')'")
            return column, True
        return self.column(word), False

    def take_word(self) -> str:
        if not self.at("word"):
            raise self.fail("expected a column name")
        return self.take().text

    def column(self, name: str) -> str:
        if name in COLUMNS:
            self.columns.append(name)
            return name
        close = difflib.get_close_matches(name, list(COLUMNS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"columns: {', '.join(COLUMNS)}"
        raise _error(self.text, f"unknown column {name!r} ({hint})")

    def value(self, column: str) -> Value:
        text_column = COLUMNS[column] == "string"
        tok = self.tok
        if (
            tok.kind == "word"
            and tok.text.lower() == "mode"
            and self.tokens[self.i + 1].text == "("
        ):
            self.take()
            self.take()
            self.expect("punct", ")", "')' after mode(")
            self.mode_columns.append(column)
            return Mode()
        if tok.kind == "number":
            if text_column:
                raise self.fail(f"{column} is text: compare it with a word or a quoted string")
            self.take()
            return float(tok.text)
        if tok.kind in ("string", "word") and not (
            tok.kind == "word" and tok.text.lower() in KEYWORDS
        ):
            if not text_column:
                raise self.fail(f"{column} is a number: compare it with a number")
            self.take()
            return tok.text[1:-1] if tok.kind == "string" else tok.text
        raise self.fail("expected a value")


def parse_rule(text: str) -> Rule:
    """Parse one rule.

    Raises
    ------
    UsageError
        A malformed rule, or one naming an unknown column (with the close matches).
    """
    return _Parser(text.strip()).parse()
