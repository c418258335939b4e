"""DynamoDB's expression languages, compiled once per text into Python closures over typed values.

Values are as the low-level client carries them: `{"S": "a"}`, `{"N": "12"}`, `{"M": {...}}`, bytes for `B`.
A condition compiles to `fn(item) -> bool`, an operand to `fn(item) -> typed value | None` (None: the path
names nothing in the item), an update to a list of actions applied by `apply_update`. The names and values
of the call (`#n`, `:v`) are bound at compile time: the cache is keyed on the text and both maps.

The semantics are DynamoDB's, as moto (the local stack's engine) implements them where the two are known to
differ only in corners the product never reaches: a comparison with a missing attribute is false, except
`<>` which is true; `<`, `<=`, `>`, `>=` and BETWEEN compare a string, a number or a binary with one of the
same type only; every value on the right of a SET is read from the item as it was before the update.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

Typed = dict[str, Any]
Item = dict[str, Typed]
Path = tuple[str | int, ...]


class ExpressionError(Exception):
    """What DynamoDB answers with a ValidationException."""


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\[\s*\d+\s*\])|(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)"
    r"|(?P<op><>|<=|>=|[=<>(),.+\-])|(?P<word>[A-Za-z_][A-Za-z0-9_\-]*))"
)
_WORDS = {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    at = 0
    text = text.rstrip()
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None or found.end() == at:
            raise ExpressionError(f"Invalid expression: syntax error near {text[at : at + 20]!r}")
        at = found.end()
        kind = found.lastgroup
        word = found.group(kind)  # type: ignore[arg-type]
        if kind == "num":
            out.append(("index", int(word.strip("[] "))))
        elif kind == "word" and word.upper() in _WORDS:
            out.append(("kw", word.upper()))
        else:
            out.append((kind or "", word))
    return out


class _Reader:
    def __init__(self, text: str, names: dict[str, str] | None, values: dict[str, Typed] | None) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.names = names or {}
        self.values = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        i = self.at + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", None)

    def take(self) -> tuple[str, Any]:
        word = self.peek()
        self.at += 1
        return word

    def expect(self, kind: str, text: Any = None) -> Any:
        got_kind, got = self.take()
        if got_kind != kind or (text is not None and got != text):
            raise ExpressionError(f"Invalid expression: expected {text or kind}, found {got!r}")
        return got

    def at_op(self, text: str) -> bool:
        return self.peek() == ("op", text)

    def at_kw(self, word: str) -> bool:
        return self.peek() == ("kw", word)

    def done(self) -> None:
        if self.peek()[0] != "end":
            raise ExpressionError(f"Invalid expression: unexpected {self.peek()[1]!r}")

    # -- operands --------------------------------------------------------------------------------
    def path(self) -> Path:
        parts: list[str | int] = [self._name()]
        while True:
            kind, word = self.peek()
            if kind == "index":
                self.take()
                parts.append(int(word))
            elif (kind, word) == ("op", "."):
                self.take()
                parts.append(self._name())
            else:
                return tuple(parts)

    def _name(self) -> str:
        kind, word = self.take()
        if kind == "name":
            if word not in self.names:
                raise ExpressionError(
                    f"An expression attribute name used in the document path is not defined; attribute name: {word}"
                )
            self.used_names.add(word)
            return self.names[word]
        if kind == "word":
            return str(word)
        raise ExpressionError(f"Invalid expression: expected an attribute name, found {word!r}")

    def value(self) -> Typed:
        word = self.expect("value")
        if word not in self.values:
            raise ExpressionError(
                f"An expression attribute value used in expression is not defined; attribute value: {word}"
            )
        self.used_values.add(word)
        return self.values[word]


# -- values ----------------------------------------------------------------------------------------------
def resolve(item: Item | None, path: Path) -> Typed | None:
    if item is None:
        return None
    found: Any = item.get(str(path[0]))
    for part in path[1:]:
        if found is None:
            return None
        if isinstance(part, int):
            inner = found.get("L")
            found = inner[part] if inner is not None and part < len(inner) else None
        else:
            inner = found.get("M")
            found = inner.get(part) if inner is not None else None
    return found


def kind_of(value: Typed) -> str:
    return next(iter(value))


def canonical(value: Typed | None) -> Any:
    """A hashable, type-aware form: two typed values are equal exactly when their canonical forms are."""
    if value is None:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return ("N", Decimal(inner))
    if kind in ("S", "B", "BOOL"):
        return (kind, inner)
    if kind == "NULL":
        return ("NULL",)
    if kind == "NS":
        return ("NS", frozenset(Decimal(v) for v in inner))
    if kind in ("SS", "BS"):
        return (kind, frozenset(inner))
    if kind == "L":
        return ("L", tuple(canonical(v) for v in inner))
    if kind == "M":
        return ("M", frozenset((k, canonical(v)) for k, v in inner.items()))
    raise ExpressionError(f"unknown attribute type {kind}")


def scalar(value: Typed | None) -> tuple[str, Any] | None:
    """(type, comparable) of a string, number or binary; None otherwise."""
    if value is None:
        return None
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return "N", Decimal(inner)
    if kind in ("S", "B"):
        return kind, inner
    return None


def copy_value(value: Typed) -> Typed:
    if "S" in value or "N" in value:
        return value.copy()
    if "M" in value:
        return {"M": {k: copy_value(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [copy_value(v) for v in value["L"]]}
    kind, inner = next(iter(value.items()))
    return {kind: list(inner) if kind in ("SS", "NS", "BS") else inner}


def copy_item(item: Item) -> Item:
    return {k: v.copy() if "S" in v or "N" in v else copy_value(v) for k, v in item.items()}


def value_size(value: Typed) -> int:
    """An attribute value's size as moto measures it (the local stack's engine, whose pages and 400 KB limit
    the replay must reproduce): a string's or a binary's bytes, a number's text, 1 for a boolean or a null,
    a map's keys and values, a list's or a set's elements."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner) if inner.isascii() else len(inner.encode("utf-8"))
    if kind == "N":
        return len(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    if kind == "L":
        return sum(value_size(v) for v in inner)
    return sum(len(k.encode("utf-8")) + value_size(v) for k, v in inner.items())


def item_size(item: Item) -> int:
    """`value_size` summed over an item with its names, the strings and numbers most items are made of
    measured here without a call each (every write is measured)."""
    size = 0
    for name, value in item.items():
        size += len(name) if name.isascii() else len(name.encode("utf-8"))
        if (inner := value.get("S")) is not None:
            size += len(inner) if inner.isascii() else len(inner.encode("utf-8"))
        elif (inner := value.get("N")) is not None:
            size += len(inner)
        else:
            size += value_size(value)
    return size


# -- conditions ------------------------------------------------------------------------------------------
Operand = Callable[[Item | None], Typed | None]
Condition = Callable[[Item | None], bool]


def _operand(reader: _Reader) -> Operand:
    kind, word = reader.peek()
    if kind == "value":
        value = reader.value()
        return lambda item: value
    if kind == "word" and word == "size" and reader.peek(1) == ("op", "("):
        reader.take()
        reader.expect("op", "(")
        path = reader.path()
        reader.expect("op", ")")

        def size(item: Item | None) -> Typed | None:
            found = resolve(item, path)
            if found is None:
                return None
            found_kind, inner = next(iter(found.items()))
            if found_kind in ("S", "B", "SS", "NS", "BS", "L", "M"):
                return {"N": str(len(inner))}
            raise ExpressionError(
                "Invalid ConditionExpression: Incorrect operand type for operator or function; "
                "operator or function: size"
            )

        return size
    path = reader.path()
    return lambda item: resolve(item, path)


def _compare(op: str, left: Operand, right: Operand) -> Condition:
    if op == "=":
        return lambda item: (
            (a := left(item)) is not None and (b := right(item)) is not None and canonical(a) == canonical(b)
        )
    if op == "<>":
        return lambda item: canonical(left(item)) != canonical(right(item))

    def ordered(item: Item | None) -> bool:
        a, b = scalar(left(item)), scalar(right(item))
        if a is None or b is None or a[0] != b[0]:
            return False
        if op == "<":
            return bool(a[1] < b[1])
        if op == "<=":
            return bool(a[1] <= b[1])
        if op == ">":
            return bool(a[1] > b[1])
        return bool(a[1] >= b[1])

    return ordered


def _function(reader: _Reader) -> Condition:
    name = reader.take()[1]
    reader.expect("op", "(")
    if name in ("attribute_exists", "attribute_not_exists"):
        path = reader.path()
        reader.expect("op", ")")
        if name == "attribute_exists":
            return lambda item: resolve(item, path) is not None
        return lambda item: resolve(item, path) is None
    if name == "attribute_type":
        path = reader.path()
        reader.expect("op", ",")
        wanted = reader.value().get("S")
        reader.expect("op", ")")
        return lambda item: (found := resolve(item, path)) is not None and kind_of(found) == wanted
    if name in ("begins_with", "contains"):
        path = reader.path()
        reader.expect("op", ",")
        other = _operand(reader)
        reader.expect("op", ")")
        if name == "begins_with":

            def begins(item: Item | None) -> bool:
                found, prefix = resolve(item, path), other(item)
                if found is None or prefix is None:
                    return False
                (fk, fv), (pk, pv) = next(iter(found.items())), next(iter(prefix.items()))
                return fk == pk and fk in ("S", "B") and bool(fv.startswith(pv))

            return begins

        def contains(item: Item | None) -> bool:
            found, part = resolve(item, path), other(item)
            if found is None or part is None:
                return False
            (fk, fv), (pk, pv) = next(iter(found.items())), next(iter(part.items()))
            if fk == "S" and pk == "S":
                return bool(pv in fv)
            if fk in ("SS", "BS") and pk == fk[0]:
                return pv in fv
            if fk == "NS" and pk == "N":
                return Decimal(pv) in {Decimal(v) for v in fv}
            if fk == "L":
                wanted = canonical(part)
                return any(canonical(v) == wanted for v in fv)
            return False

        return contains
    raise ExpressionError(f"Invalid expression: unknown function {name}")


_FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}


def _primary(reader: _Reader) -> Condition:
    if reader.at_op("("):
        reader.take()
        inner = _or(reader)
        reader.expect("op", ")")
        return inner
    kind, word = reader.peek()
    if kind == "word" and word in _FUNCTIONS and reader.peek(1) == ("op", "("):
        return _function(reader)
    left = _operand(reader)
    kind, word = reader.peek()
    if kind == "op" and word in ("=", "<>", "<", "<=", ">", ">="):
        reader.take()
        return _compare(word, left, _operand(reader))
    if reader.at_kw("BETWEEN"):
        reader.take()
        low = _operand(reader)
        reader.expect("kw", "AND")
        high = _operand(reader)

        def between(item: Item | None) -> bool:
            a, lo, hi = scalar(left(item)), scalar(low(item)), scalar(high(item))
            if a is None or lo is None or hi is None or not (a[0] == lo[0] == hi[0]):
                return False
            return bool(lo[1] <= a[1] <= hi[1])

        return between
    if reader.at_kw("IN"):
        reader.take()
        reader.expect("op", "(")
        options = [_operand(reader)]
        while reader.at_op(","):
            reader.take()
            options.append(_operand(reader))
        reader.expect("op", ")")

        def within(item: Item | None) -> bool:
            found = left(item)
            if found is None:
                return False
            wanted = canonical(found)
            return any(canonical(option(item)) == wanted for option in options)

        return within
    raise ExpressionError(f"Invalid expression: a comparison was expected after {word!r}")


def _not(reader: _Reader) -> Condition:
    if reader.at_kw("NOT"):
        reader.take()
        inner = _not(reader)
        return lambda item: not inner(item)
    return _primary(reader)


def _and(reader: _Reader) -> Condition:
    parts = [_not(reader)]
    while reader.at_kw("AND"):
        reader.take()
        parts.append(_not(reader))
    if len(parts) == 1:
        return parts[0]
    return lambda item: all(part(item) for part in parts)


def _or(reader: _Reader) -> Condition:
    parts = [_and(reader)]
    while reader.at_kw("OR"):
        reader.take()
        parts.append(_and(reader))
    if len(parts) == 1:
        return parts[0]
    return lambda item: any(part(item) for part in parts)


def _copied(values: dict[str, Typed] | None) -> dict[str, Typed] | None:
    return {k: copy_value(v) for k, v in values.items()} if values else values


def _freeze(mapping: dict[str, Any] | None) -> Any:
    if not mapping:
        return ()
    return tuple(sorted((k, repr(v)) for k, v in mapping.items()))


_conditions: dict[Any, tuple[Condition, set[str], set[str]]] = {}


def condition(
    text: str, names: dict[str, str] | None, values: dict[str, Typed] | None
) -> tuple[Condition, set[str], set[str]]:
    """The compiled condition, and the names and values it used (DynamoDB refuses unused ones)."""
    cache_key = (text, _freeze(names), _freeze(values))
    found = _conditions.get(cache_key)
    if found is None:
        if len(_conditions) > 20_000:
            _conditions.clear()
        reader = _Reader(text, names, _copied(values))
        compiled = _or(reader)
        reader.done()
        found = _conditions[cache_key] = (compiled, reader.used_names, reader.used_values)
    return found


# -- key conditions ----------------------------------------------------------------------------------------
class KeyCondition:
    """`hash = :v [AND range <op> ...]`: the partition's value, and a test of the sort key's."""

    def __init__(
        self, hash_name: str, hash_value: Typed, range_name: str | None, test: Callable[[Typed | None], bool] | None
    ):
        self.hash_name = hash_name
        self.hash_value = hash_value
        self.range_name = range_name
        self.test = test


def key_condition(
    text: str, names: dict[str, str] | None, values: dict[str, Typed] | None
) -> tuple[KeyCondition, set[str], set[str]]:
    reader = _Reader(text, names, values)
    parts: list[tuple[str, Callable[[Typed | None], bool] | None, Typed | None]] = []
    while True:
        parts.append(_key_part(reader))
        if not reader.at_kw("AND"):
            break
        reader.take()
    reader.done()
    equalities = [(name, value) for name, test, value in parts if value is not None]
    if not equalities or len(parts) > 2:
        raise ExpressionError("Query key condition not supported")
    hash_name, hash_value = equalities[0]
    rest = [p for p in parts if p[0] != hash_name]
    if len(rest) != len(parts) - 1:
        raise ExpressionError("Query key condition not supported")
    range_name, test = (rest[0][0], rest[0][1]) if rest else (None, None)
    return KeyCondition(hash_name, hash_value, range_name, test), reader.used_names, reader.used_values


def _key_part(reader: _Reader) -> tuple[str, Callable[[Typed | None], bool] | None, Typed | None]:
    """(attribute, test of its value, the value when the part is an equality)."""
    if reader.at_op("("):
        reader.take()
        part = _key_part(reader)
        reader.expect("op", ")")
        return part
    kind, word = reader.peek()
    if kind == "word" and word == "begins_with":
        reader.take()
        reader.expect("op", "(")
        name = reader._name()
        reader.expect("op", ",")
        prefix = reader.value()
        reader.expect("op", ")")
        pk, pv = next(iter(prefix.items()))

        def begins(found: Typed | None) -> bool:
            if found is None:
                return False
            fk, fv = next(iter(found.items()))
            return fk == pk and bool(fv.startswith(pv))

        return name, begins, None
    name = reader._name()
    kind, word = reader.take()
    if (kind, word) == ("kw", "BETWEEN"):
        low = scalar(reader.value())
        reader.expect("kw", "AND")
        high = scalar(reader.value())

        def between(found: Typed | None) -> bool:
            a = scalar(found)
            return (
                a is not None
                and low is not None
                and high is not None
                and a[0] == low[0]
                and bool(low[1] <= a[1] <= high[1])
            )

        return name, between, None
    if kind != "op" or word not in ("=", "<", "<=", ">", ">="):
        raise ExpressionError(f"Invalid KeyConditionExpression near {word!r}")
    raw = reader.value()
    compare = _compare(word, lambda found: found, lambda found: raw)
    # the found value is passed as the "item": _compare's operands read it back
    return name, compare, (raw if word == "=" else None)


# -- projections ------------------------------------------------------------------------------------------
_projections: dict[Any, tuple[list[Path], set[str]]] = {}


def projection(text: str, names: dict[str, str] | None) -> tuple[list[Path], set[str]]:
    cache_key = (text, _freeze(names))
    found = _projections.get(cache_key)
    if found is None:
        reader = _Reader(text, names, None)
        paths = [reader.path()]
        while reader.at_op(","):
            reader.take()
            paths.append(reader.path())
        reader.done()
        found = _projections[cache_key] = (paths, reader.used_names)
    return found


def project(item: Item, paths: list[Path]) -> Item:
    out: Item = {}
    for path in paths:
        found = resolve(item, path)
        if found is None:
            continue
        _place(out, path, copy_value(found))
    return out


def _place(out: Item, path: Path, value: Typed) -> None:
    """Put `value` at `path` in a projection, building the maps on the way (a list element asked by its
    position is appended to the projected list, in the order asked)."""
    if len(path) == 1:
        out[path[0]] = value  # type: ignore[index]
        return

    def fresh(following: str | int) -> Typed:
        return {"L": []} if isinstance(following, int) else {"M": {}}

    node: Typed = out.setdefault(str(path[0]), fresh(path[1]))
    for i, part in enumerate(path[1:-1], start=1):
        following = path[i + 1]
        if "M" in node:
            node = node["M"].setdefault(part, fresh(following))
        else:
            child = fresh(following)
            node["L"].append(child)
            node = child
    last = path[-1]
    if "M" in node:
        node["M"][last] = value
    else:
        node["L"].append(value)


# -- updates ----------------------------------------------------------------------------------------------
class Action:
    def __init__(self, verb: str, path: Path, value: Operand | None) -> None:
        self.verb = verb
        self.path = path
        self.value = value


_updates: dict[Any, tuple[list[Action], set[str], set[str]]] = {}


def update(
    text: str, names: dict[str, str] | None, values: dict[str, Typed] | None
) -> tuple[list[Action], set[str], set[str]]:
    cache_key = (text, _freeze(names), _freeze(values))
    found = _updates.get(cache_key)
    if found is None:
        if len(_updates) > 20_000:
            _updates.clear()
        reader = _Reader(text, names, _copied(values))
        actions: list[Action] = []
        seen: set[str] = set()
        while reader.peek()[0] != "end":
            verb = reader.expect("kw")
            if verb not in ("SET", "REMOVE", "ADD", "DELETE") or verb in seen:
                raise ExpressionError(
                    f"Invalid UpdateExpression: the {verb} section can only be used once"
                    if verb in seen
                    else f"Invalid UpdateExpression near {verb}"
                )
            seen.add(verb)
            while True:
                path = reader.path()
                if verb == "SET":
                    reader.expect("op", "=")
                    actions.append(Action(verb, path, _set_value(reader)))
                elif verb == "REMOVE":
                    actions.append(Action(verb, path, None))
                else:
                    value = reader.value()
                    actions.append(Action(verb, path, _constant(value)))
                if not reader.at_op(","):
                    break
                reader.take()
        paths = [a.path for a in actions]
        for i, one in enumerate(paths):
            for other in paths[i + 1 :]:
                shorter = min(len(one), len(other))
                if one[:shorter] == other[:shorter]:
                    raise ExpressionError(
                        "Invalid UpdateExpression: Two document paths overlap with each other; "
                        "must remove or rewrite one of these paths"
                    )
        if not actions:
            raise ExpressionError("Invalid UpdateExpression: the expression is empty")
        found = _updates[cache_key] = (actions, reader.used_names, reader.used_values)
    return found


def _constant(value: Typed) -> Operand:
    return lambda item: value


def _set_value(reader: _Reader) -> Operand:
    left = _set_operand(reader)
    if reader.at_op("+") or reader.at_op("-"):
        sign = reader.take()[1]
        right = _set_operand(reader)

        def arithmetic(item: Item | None) -> Typed:
            a, b = left(item), right(item)
            if a is None or b is None:
                raise ExpressionError("The provided expression refers to an attribute that does not exist in the item")
            if kind_of(a) != "N" or kind_of(b) != "N":
                raise ExpressionError("An operand in the update expression has an incorrect data type")
            total = Decimal(a["N"]) + Decimal(b["N"]) if sign == "+" else Decimal(a["N"]) - Decimal(b["N"])
            return {"N": str(total)}

        return arithmetic
    return left


def _set_operand(reader: _Reader) -> Operand:
    kind, word = reader.peek()
    if kind == "word" and word in ("if_not_exists", "list_append") and reader.peek(1) == ("op", "("):
        reader.take()
        reader.expect("op", "(")
        if word == "if_not_exists":
            path = reader.path()
            reader.expect("op", ",")
            fallback = _set_operand(reader)
            reader.expect("op", ")")

            def if_not_exists(item: Item | None) -> Typed | None:
                found = resolve(item, path)
                return found if found is not None else fallback(item)

            return if_not_exists
        first = _set_operand(reader)
        reader.expect("op", ",")
        second = _set_operand(reader)
        reader.expect("op", ")")

        def list_append(item: Item | None) -> Typed:
            a, b = first(item), second(item)
            if a is None or b is None:
                raise ExpressionError("The provided expression refers to an attribute that does not exist in the item")
            if kind_of(a) != "L" or kind_of(b) != "L":
                raise ExpressionError("An operand in the update expression has an incorrect data type")
            return {"L": list(a["L"]) + list(b["L"])}

        return list_append
    if kind == "value":
        value = reader.value()
        return lambda item: value
    path = reader.path()
    return lambda item: resolve(item, path)


def apply_update(old: Item, actions: list[Action]) -> Item:
    """The item after the actions: every value read from `old`, the result a new item (`old` untouched)."""
    values = []
    for action in actions:
        value = action.value(old) if action.value is not None else None
        if action.verb == "SET" and value is None:
            raise ExpressionError("The provided expression refers to an attribute that does not exist in the item")
        values.append(value)
    new = copy_item(old)
    for action, value in zip(actions, values, strict=True):
        if action.verb == "SET":
            _assign(new, action.path, copy_value(value))  # type: ignore[arg-type]
        elif action.verb == "REMOVE":
            _remove(new, action.path)
        elif action.verb == "ADD":
            _add(new, action.path, value)  # type: ignore[arg-type]
        else:
            _delete(new, action.path, value)  # type: ignore[arg-type]
    return new


def _parent(item: Item, path: Path) -> Any:
    """The map or list holding the last part of `path`, None when the path's parent is missing."""
    holder: Any = {"M": item}
    for part in path[:-1]:
        if isinstance(part, int):
            inner = holder.get("L")
            holder = inner[part] if inner is not None and part < len(inner) else None
        else:
            inner = holder.get("M")
            holder = inner.get(part) if inner is not None else None
        if holder is None:
            return None
    return holder


def _assign(item: Item, path: Path, value: Typed) -> None:
    holder = _parent(item, path)
    last = path[-1]
    if holder is None:
        raise ExpressionError("The document path provided in the update expression is invalid for update")
    if isinstance(last, int):
        if "L" not in holder:
            raise ExpressionError("The document path provided in the update expression is invalid for update")
        listing = holder["L"]
        if last < len(listing):
            listing[last] = value
        else:
            listing.append(value)
    else:
        if "M" not in holder:
            raise ExpressionError("The document path provided in the update expression is invalid for update")
        holder["M"][last] = value


def _remove(item: Item, path: Path) -> None:
    holder = _parent(item, path)
    if holder is None:
        return
    last = path[-1]
    if isinstance(last, int):
        listing = holder.get("L")
        if listing is not None and last < len(listing):
            del listing[last]
    elif "M" in holder:
        holder["M"].pop(last, None)


def _add(item: Item, path: Path, value: Typed) -> None:
    found = resolve(item, path)
    kind = kind_of(value)
    if found is None:
        _assign(item, path, copy_value(value))
        return
    if kind == "N" and kind_of(found) == "N":
        _assign(item, path, {"N": str(Decimal(found["N"]) + Decimal(value["N"]))})
    elif kind in ("SS", "NS", "BS") and kind_of(found) == kind:
        merged = list(found[kind]) + [v for v in value[kind] if v not in found[kind]]
        _assign(item, path, {kind: merged})
    else:
        raise ExpressionError("An operand in the update expression has an incorrect data type")


def _delete(item: Item, path: Path, value: Typed) -> None:
    found = resolve(item, path)
    kind = kind_of(value)
    if kind not in ("SS", "NS", "BS"):
        raise ExpressionError("An operand in the update expression has an incorrect data type")
    if found is None:
        return
    if kind_of(found) != kind:
        raise ExpressionError("An operand in the update expression has an incorrect data type")
    kept = [v for v in found[kind] if v not in value[kind]]
    if kept:
        _assign(item, path, {kind: kept})
    else:
        _remove(item, path)
