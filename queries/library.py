"""The named query library: Cypher for the enriched graph, run as ``graphsona query NAME``.

Each query is a file ``library/<name>.cypher`` (shared by both stores) or
``library/<dialect>/<name>.cypher`` (where Neo4j and the embedded store differ, e.g. vector
search). The file starts with ``//`` comment lines: a description, then
``// params: user:str, limit:int=10`` declaring parameters with their type and optional default.
Values are always Cypher ``$parameters``; labels and property keys come from the store's schema
mapping through :func:`graphsona.queries.render`, so the queries follow a mapped graph too.

Ad-hoc Cypher is checked by :func:`write_clauses` / :func:`refused_clauses` before it runs (the
CLI refuses it unless ``--write``; ``run(read_only=True)`` on Neo4j refuses it too). The text is
read in one pass (strings with backslash escapes, back-quoted names, ``//`` and ``/* */``
comments: whichever starts first wins; unterminated ones are refused), then every keyword
standing as a clause is judged:

* allowed: reading clauses (``MATCH``, ``OPTIONAL MATCH``, ``WHERE``, ``WITH``, ``RETURN``,
  ``ORDER BY``, ``SKIP``, ``LIMIT``, ``UNWIND``, ``UNION [ALL]``, ``YIELD``, ``DISTINCT``) and
  expressions (``CASE``, ``EXISTS { }``, ``COUNT { }``, ...); ``CALL { ... }`` and
  ``CALL (x) { ... }`` subqueries; ``CALL`` of a procedure in :data:`READ_PROCEDURES`,
  ``db.schema.*`` or a GDS algorithm's ``.stream`` mode;
* refused: every other clause or command in :data:`WRITE_KEYWORDS` (writes, ``COPY``,
  ``LOAD FROM`` / ``LOAD CSV``, ``EXPORT`` / ``IMPORT DATABASE``, ``ATTACH``, ``INSTALL``,
  transactions, ``CHECKPOINT``, ...), any other procedure (``gds.graph.project`` runs even in a
  READ transaction) and ``CALL option=value`` settings;
* keywords used as names are not clauses: ``u.delete``, ``(n:Set)``, ``{create: 1}``,
  ``RETURN 1 AS set`` and back-quoted names.

The stores also run read-only queries in a read-only mode where the engine has one (a READ
transaction on Neo4j, a read-only database on the embedded store); neither stops file access
(``COPY ... TO``, ``LOAD FROM``) or a GDS projection, which is why the check comes first.

Example:
    >>> [q.name for q in named_queries("embedded")][:3]
    ['bridges', 'communities', 'community']
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

from graphsona.errors import ConfigError
from graphsona.queries import DIALECTS, fill

if TYPE_CHECKING:
    import polars as pl
    from graphsona.graph import GraphStore

__all__ = [
    "NamedQuery",
    "get_query",
    "named_queries",
    "refused_clauses",
    "run_named",
    "write_clauses",
]

_TYPES: dict[str, type] = {"str": str, "int": int, "float": float}
_PARAM = re.compile(r"^([a-z_][a-z0-9_]*)(?::(str|int|float))?(?:=(.*))?$")
REQUIRED = object()


@dataclass(frozen=True)
class NamedQuery:
    name: str
    dialect: str
    description: str
    params: dict[str, tuple[type, Any]] = field(default_factory=dict)  # name -> (type, default)
    template: str = ""

    def bind(self, given: dict[str, Any]) -> dict[str, Any]:
        """Typed parameter values: defaults filled, strings converted, unknown/missing refused."""
        unknown = sorted(set(given) - set(self.params))
        if unknown:
            raise ConfigError(
                f"query {self.name!r} has no parameter {unknown[0]!r}; "
                f"it takes: {', '.join(self.params) or 'none'}"
            )
        out = {}
        for key, (typ, default) in self.params.items():
            if key in given:
                try:
                    out[key] = typ(given[key])
                except (TypeError, ValueError):
                    raise ConfigError(
                        f"query {self.name!r}: {key} must be {typ.__name__} (got {given[key]!r})"
                    ) from None
            elif default is REQUIRED:
                raise ConfigError(f"query {self.name!r} needs --param {key}=...")
            else:
                out[key] = default
        return out

    def usage(self) -> str:
        parts = [
            f"{k}={d}" if d is not REQUIRED else f"{k}:{t.__name__}"
            for k, (t, d) in self.params.items()
        ]
        return f"{self.name}({', '.join(parts)})"


def _root() -> Any:
    return resources.files(__package__) / "library"


def _parse(name: str, dialect: str, text: str) -> NamedQuery:
    desc, params = [], {}
    for line in text.splitlines():
        if not line.startswith("//"):
            break
        body = line[2:].strip()
        if body.startswith("params:"):
            for item in filter(None, (p.strip() for p in body[7:].split(","))):
                m = _PARAM.match(item)
                if not m:
                    raise ConfigError(f"query {name!r}: bad parameter declaration {item!r}")
                typ = _TYPES[m.group(2) or "str"]
                params[m.group(1)] = (typ, typ(m.group(3)) if m.group(3) is not None else REQUIRED)
        else:
            desc.append(body)
    return NamedQuery(name, dialect, " ".join(desc), params, text)


@cache
def named_queries(dialect: str) -> list[NamedQuery]:
    """Every named query for ``dialect`` (a dialect file wins over a shared one), by name."""
    if dialect not in DIALECTS:
        raise ConfigError(f"dialect must be one of {DIALECTS} (got {dialect!r})")
    found: dict[str, str] = {}
    for folder in (_root(), _root() / dialect):
        if folder.is_dir():
            for p in folder.iterdir():
                if p.name.endswith(".cypher"):
                    found[p.name[:-7]] = p.read_text(encoding="utf-8")
    return [_parse(n, dialect, found[n]) for n in sorted(found)]


def get_query(name: str, dialect: str) -> NamedQuery:
    for q in named_queries(dialect):
        if q.name == name:
            return q
    known = ", ".join(q.name for q in named_queries(dialect))
    raise ConfigError(f"no named query {name!r}; known: {known}")


def run_named(
    store: GraphStore,
    name: str,
    params: dict[str, Any] | None = None,
    *,
    profile_property: str = "profile",
) -> pl.DataFrame:
    """Run named query ``name`` on ``store`` with ``params`` (strings are converted)."""
    q = get_query(name, store.dialect)
    values = q.bind(params or {})
    names = {
        **store._names(),
        "profile": profile_property,
        "profile_table": f"{store.mapping.user_label}__{profile_property}",
    }
    text = _render_text(q, names)
    if "$index" in text:
        values["index"] = f"{store.mapping.user_label}_{profile_property}"
    return store.run(text, values, read_only=True)


def _render_text(q: NamedQuery, names: dict[str, str]) -> str:
    return fill(q.template, q.name, **names)


# ------------------------------------------------------------------ read-only check of ad-hoc Cypher
#
# One pass over the text splits it into tokens (strings, back-quoted names, comments, numbers,
# words, parameters, punctuation: whichever starts first wins), then every word that is a
# clause or command keyword is judged by its position. Keywords are matched case-insensitively.

#: Keywords of reading clauses (and their parts): always allowed.
READ_CLAUSES = frozenset(
    {
        "MATCH", "OPTIONAL", "WHERE", "WITH", "RETURN", "ORDER", "BY", "SKIP", "LIMIT",
        "UNWIND", "UNION", "ALL", "CALL", "YIELD", "DISTINCT",
    }
)  # fmt: skip
#: Clause and command keywords (Cypher, Neo4j admin, LadybugDB/Kuzu) that write, touch files,
#: load extensions or change the session: refused wherever they stand as a clause.
WRITE_KEYWORDS = frozenset(
    {
        "CREATE", "MERGE", "SET", "DELETE", "DETACH", "REMOVE", "DROP", "ALTER", "RENAME",
        "COPY", "LOAD", "INSTALL", "UNINSTALL", "IMPORT", "EXPORT", "FOREACH", "CHECKPOINT",
        "ATTACH", "USE", "BEGIN", "COMMIT", "ROLLBACK", "COMMIT_SKIP_CHECKPOINT",
        "ROLLBACK_SKIP_CHECKPOINT", "PROJECT", "ANALYZE", "GRANT", "DENY", "REVOKE", "TERMINATE",
    }
)  # fmt: skip
#: Command words that are also common names (``start``, ``comment``): refused when they begin a
#: statement or are followed by one of the given words.
_COMMAND_WORDS: dict[str, frozenset[str]] = {
    "COMMENT": frozenset({"ON"}),
    "UPDATE": frozenset(),  # LadybugDB: UPDATE <extension>
    "START": frozenset({"DATABASE"}),
    "STOP": frozenset({"DATABASE"}),
    "ENABLE": frozenset({"SERVER"}),
    "DEALLOCATE": frozenset({"DATABASE", "DATABASES"}),
    "REALLOCATE": frozenset({"DATABASE", "DATABASES"}),
    "DRYRUN": frozenset({"DEALLOCATE", "REALLOCATE"}),
}
#: Procedures ``CALL`` may run in a read-only query (names compared in lower case).
READ_PROCEDURES = frozenset(
    {
        "db.index.vector.querynodes",
        "db.labels",
        "db.relationshiptypes",
        "db.propertykeys",
        "gds.graph.list",
        "gds.graph.exists",
        "table_info",
        "show_tables",
        "show_functions",
    }
)
#: ``db.schema.*`` and GDS algorithms in ``.stream`` mode (they return rows, store nothing).
_READ_PROCEDURE_FAMILIES = re.compile(r"db\.schema\.[a-z0-9_]+|gds\.(?:[a-z0-9_]+\.)+stream")
# Words that may follow an alias (``RETURN n AS set ORDER BY n``).
_AFTER_ALIAS = frozenset(
    {"WHERE", "ORDER", "SKIP", "LIMIT", "UNION", "RETURN", "WITH", "MATCH", "OPTIONAL", "UNWIND"}
)

# After these tokens an expression operand follows, never a clause, so a keyword there is a
# variable (``RETURN project``, ``ORDER BY set``). Not ``*``: ``WITH * SET n.x = 1`` is valid.
_OPERAND_AFTER_WORD = frozenset(
    {
        "RETURN", "WITH", "WHERE", "BY", "DISTINCT", "AND", "OR", "XOR", "NOT", "IN", "IS",
        "CASE", "WHEN", "THEN", "ELSE", "UNWIND", "YIELD",
    }
)  # fmt: skip
_OPERAND_AFTER_PUNCT = frozenset({",", "=", "<", ">", "+", "-", "/", "%", "^", "(", "["})

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]+|0[oO][0-7]+|(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?")
_PARAMETER = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*|\d+)")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_LINE_ENDS = "\n\r\u2028\u2029\x85"  # a // comment ends at any of these (Neo4j ends it at \r)
_UNICODE_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class _Token(NamedTuple):
    kind: str  # word, name (back-quoted), string, number, param, punct, end
    text: str  # a name without its back quotes
    pos: int


def _unreadable(what: str, query: str, pos: int) -> ConfigError:
    line = query.count("\n", 0, pos) + 1
    column = pos - (query.rfind("\n", 0, pos) + 1) + 1
    return ConfigError(f"cannot read the query: {what} at line {line}, column {column}")


def _tokens(query: str) -> list[_Token]:
    """Tokens of ``query``, comments and white space dropped, ending with an ``end`` token."""
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif query.startswith("//", i):
            while i < n and query[i] not in _LINE_ENDS:
                i += 1
        elif query.startswith("/*", i):
            end = query.find("*/", i + 2)
            if end < 0:
                raise _unreadable("unterminated /* comment", query, i)
            i = end + 2
        elif ch in "'\"":
            j = i + 1
            while j < n and query[j] != ch:
                j += 2 if query[j] == "\\" else 1
            if j >= n:
                raise _unreadable("unterminated string", query, i)
            out.append(_Token("string", query[i : j + 1], i))
            i = j + 1
        elif ch == "`":
            j, parts = i, []
            while j < n and query[j] == "`":  # `a``b` is the name a`b
                end = query.find("`", j + 1)
                if end < 0:
                    raise _unreadable("unterminated `name`", query, i)
                parts.append(query[j + 1 : end])
                j = end + 1
            out.append(_Token("name", "`".join(parts), i))
            i = j
        elif m := _WORD.match(query, i):
            out.append(_Token("word", m.group(), i))
            i = m.end()
        elif (m := _PARAMETER.match(query, i)) or (m := _NUMBER.match(query, i)):
            if m.end() < n and _WORD_CHAR.match(query, m.end()):
                # engines split `1CREATE` or `$1SET` differently: refuse rather than guess
                raise _unreadable("a number runs into a name", query, i)
            out.append(_Token("param" if ch == "$" else "number", m.group(), i))
            i = m.end()
        else:
            out.append(_Token("punct", ch, i))
            i += 1
    out.append(_Token("end", "", n))
    return out


def _procedure_allowed(name: str) -> bool:
    name = name.lower()
    return name in READ_PROCEDURES or bool(_READ_PROCEDURE_FAMILIES.fullmatch(name))


def _scan(query: str) -> set[str]:
    """Refused clauses of ``query`` as written (``CALL <procedure>`` for a refused call)."""
    toks = _tokens(query)
    found: set[str] = set()
    brackets: list[str] = []  # open ( [ { around the current token
    expect_label = after_label = False  # inside a label expression  :A|B&!C
    skip: set[int] = set()  # tokens already judged (a procedure's name)
    for k, tok in enumerate(toks[:-1]):
        prev = toks[k - 1] if k else None
        nxt = toks[k + 1]
        if tok.kind == "punct":
            if tok.text in "([{":
                brackets.append(tok.text)
            elif tok.text in ")]}" and brackets:
                brackets.pop()
            if tok.text == ":" or (tok.text in "|&" and after_label):
                expect_label, after_label = True, False
            elif not (tok.text in "!%" and expect_label):
                expect_label = after_label = False
            continue
        if expect_label and tok.kind in ("word", "name"):
            expect_label, after_label = False, True
            continue  # a label, relationship type or map value: never a clause
        expect_label = after_label = False
        if tok.kind != "word" or k in skip:
            continue
        if tok.text.lower() == "apoc" and nxt.text == "." and not (prev and prev.text == "."):
            found |= _check_apoc_function(toks, k, skip)
            continue
        word = tok.text.upper()
        if word not in WRITE_KEYWORDS and word not in _COMMAND_WORDS and word != "CALL":
            continue
        if _is_name(toks, k, brackets):
            continue
        if word == "CALL":
            found |= _check_call(toks, k, skip)
        elif word in WRITE_KEYWORDS or (  # a command word: at the start of a statement
            prev is None
            or prev.text == ";"
            or prev.text.upper() in ("EXPLAIN", "PROFILE")
            or nxt.text.upper() in _COMMAND_WORDS[word]
        ):
            found.add(word)
    return found


def _is_name(toks: list[_Token], k: int, brackets: list[str]) -> bool:
    """Whether the keyword-like word ``toks[k]`` is a name here: a property or namespace part
    (``u.delete``, not after a number), a map key (``{create: 1}``) or an alias (``AS set``)."""
    prev = toks[k - 1] if k else None
    before = toks[k - 2] if k > 1 else None
    nxt = toks[k + 1]
    if nxt.kind == "punct" and nxt.text == "." and not (prev and prev.text == "."):
        return True  # `use.user_id`: a clause keyword is never followed by "."
    if prev is not None and (
        (prev.kind == "punct" and prev.text in _OPERAND_AFTER_PUNCT)
        or (prev.kind == "word" and prev.text.upper() in _OPERAND_AFTER_WORD)
    ):
        return True  # `RETURN project`, `ORDER BY set`, `x = use`: an operand, not a clause
    if prev is None or before is None:
        return False
    in_map = bool(brackets) and brackets[-1] == "{"
    if prev.text == "." and prev.kind == "punct":
        return (
            before.kind in ("word", "name", "param")
            or before.text in (")", "]", "}", "{")
            or (before.text == "," and in_map)
        )
    if prev.text in ("{", ",") and prev.kind == "punct" and nxt.text == ":" and in_map:
        return True
    if prev.kind == "punct" and prev.text in ("(", "[") and nxt.text in (":", ")", "]", "{"):
        # a pattern variable: (project:Project), (use), [set:KNOWS] -- no clause stands there
        return True
    if prev.kind == "word" and prev.text.upper() == "AS":
        return (
            before.kind in ("word", "name", "number", "string", "param")
            or before.text in (")", "]", "}")
        ) and (
            nxt.kind == "end"
            or (nxt.kind == "punct" and nxt.text in (",", ")", "]", "}", ";"))
            or (nxt.kind == "word" and nxt.text.upper() in _AFTER_ALIAS)
        )
    return False


#: APOC function namespaces that only compute values. Others run Cypher given as a string
#: (``apoc.cypher.runFirstColumnSingle('CALL gds.graph.project(...)')``), or read and write
#: files: their calls are refused like write clauses.
READ_APOC_FUNCTIONS = frozenset(
    {
        "agg", "any", "bitwise", "coll", "convert", "date", "diff", "hashing", "label", "map",
        "math", "meta", "node", "nodes", "number", "path", "rel", "scoring", "temporal", "text",
        "util",
    }
)  # fmt: skip


def _check_apoc_function(toks: list[_Token], k: int, skip: set[int]) -> set[str]:
    """``apoc.<namespace>.<name>(...)`` outside CALL: a function, allowed by namespace."""
    parts, j = [toks[k].text], k
    while toks[j + 1].text == "." and toks[j + 2].kind in ("word", "name"):
        j += 2
        parts.append(toks[j].text)
        skip.add(j)
    name = ".".join(parts)
    if len(parts) < 3 or parts[1].lower() not in READ_APOC_FUNCTIONS:
        return {f"FUNCTION {name}"}
    return set()


def _check_call(toks: list[_Token], k: int, skip: set[int]) -> set[str]:
    """``CALL {``, ``CALL (a, b) {`` and known read-only procedures pass; others are refused."""
    j = k + 1
    if toks[j].text == "(" and toks[j].kind == "punct":  # CALL (a, b) { ... }: scoped subquery
        j += 1
        while toks[j].kind in ("word", "name") or toks[j].text in (",", "*"):
            j += 1
        if toks[j].text == ")" and toks[j + 1].text == "{" and toks[j + 1].kind == "punct":
            return set()
        return {"CALL"}
    if toks[j].text == "{" and toks[j].kind == "punct":
        return set()
    if toks[j].kind not in ("word", "name"):
        return {"CALL"}
    parts = [toks[j].text]
    skip.add(j)
    while toks[j + 1].text == "." and toks[j + 2].kind in ("word", "name"):
        j += 2
        parts.append(toks[j].text)
        skip.add(j)
    name = ".".join(parts)
    if toks[j + 1].text == "=" or not _procedure_allowed(name):  # CALL threads=1 sets an option
        return {f"CALL {name}"}
    return set()


def refused_clauses(query: str) -> list[str]:
    """What makes ``query`` unfit for a read-only run, sorted: clause keywords in upper case
    (``COPY``, ``DELETE``) and ``CALL <procedure>`` for a procedure not known to be read-only.

    Raises :class:`ConfigError` for text that cannot be read safely (an unterminated string,
    back-quoted name or ``/*`` comment; a number running into a name). ``\\uXXXX`` escapes are
    checked both as written and decoded, since an engine may decode them before parsing.
    """
    found = _scan(query)

    def decode(m: re.Match[str]) -> str:
        code = int(m.group(1) or m.group(2), 16)
        return chr(code) if code <= 0x10FFFF else m.group()

    decoded = _UNICODE_ESCAPE.sub(decode, query)
    if decoded != query:
        try:
            found |= _scan(decoded)
        except ConfigError as e:
            raise ConfigError(f"{e} (once its \\u escapes are decoded)") from None
    return sorted(found)


def write_clauses(query: str) -> list[str]:
    """The clause keywords that keep ``query`` from running read-only, sorted and upper-case
    (``CALL`` for a procedure that is not on the read-only list); ``[]`` for a read-only query.

    Strings, back-quoted names and comments are ignored, and so are keywords used as names
    (``u.delete``, ``{create: 1}``, ``(n:Set)``, ``RETURN 1 AS set``). See :func:`refused_clauses`.

    Example:
        >>> write_clauses("MATCH (u) WHERE u.bio = 'I CREATE art' RETURN u // then DELETE")
        []
        >>> write_clauses("// it's\\nCOPY (RETURN 1) TO 'x.csv' //'")
        ['COPY']
        >>> write_clauses("CALL gds.graph.project('g', 'User', 'FOLLOWS')")
        ['CALL']
    """
    return sorted({item.split()[0] for item in refused_clauses(query)})
