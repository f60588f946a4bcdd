"""Label selectors (string and LabelSelector object forms) and field selectors."""
import re

from .common import bad_request

_TERM = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_terms(s):
    terms, depth, cur = [], 0, []
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    terms.append("".join(cur))
    return [t for t in terms if t.strip()]


def parse_label_selector(s):
    """Returns a list of requirements (key, op, values)."""
    reqs = []
    if not s:
        return reqs
    for term in _split_terms(s):
        m = _TERM.match(term)
        if not m:
            raise bad_request("unable to parse requirement: found '%s', expected: identifier" % term.strip())
        neg, key, op, val, setop, setvals = m.groups()
        if neg:
            if op or setop:
                raise bad_request("unable to parse requirement: invalid selector %r" % term.strip())
            reqs.append((key, "!", ()))
        elif op:
            reqs.append((key, "!=" if op == "!=" else "=", (val,)))
        elif setop:
            vals = tuple(v.strip() for v in setvals.split(",") if v.strip())
            reqs.append((key, setop, vals))
        else:
            reqs.append((key, "exists", ()))
    return reqs


def match_reqs(reqs, labels):
    labels = labels or {}
    for key, op, vals in reqs:
        has = key in labels
        if op == "=":
            if not has or labels[key] != vals[0]:
                return False
        elif op == "!=":
            if has and labels[key] == vals[0]:
                return False
        elif op == "in":
            if not has or labels[key] not in vals:
                return False
        elif op == "notin":
            if has and labels[key] in vals:
                return False
        elif op == "exists":
            if not has:
                return False
        elif op == "!":
            if has:
                return False
    return True


def selector_object_reqs(sel):
    """LabelSelector object -> requirements. None selector matches nothing; {} matches all."""
    reqs = []
    for k, v in sorted((sel.get("matchLabels") or {}).items()):
        reqs.append((k, "=", (v,)))
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        key = e.get("key")
        vals = tuple(e.get("values") or ())
        if op == "In":
            reqs.append((key, "in", vals))
        elif op == "NotIn":
            reqs.append((key, "notin", vals))
        elif op == "Exists":
            reqs.append((key, "exists", ()))
        elif op == "DoesNotExist":
            reqs.append((key, "!", ()))
    return reqs


def match_selector_obj(sel, labels):
    if sel is None:
        return False
    return match_reqs(selector_object_reqs(sel), labels)


def selector_to_string(sel):
    parts = []
    for k, op, vals in selector_object_reqs(sel or {}):
        if op == "=":
            parts.append("%s=%s" % (k, vals[0]))
        elif op in ("in", "notin"):
            parts.append("%s %s (%s)" % (k, op, ",".join(vals)))
        elif op == "exists":
            parts.append(k)
        else:
            parts.append("!" + k)
    return ",".join(parts)


def parse_field_selector(s):
    reqs = []
    if not s:
        return reqs
    for term in s.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            reqs.append((k.strip(), False, v.strip()))
        elif "==" in term:
            k, v = term.split("==", 1)
            reqs.append((k.strip(), True, v.strip()))
        elif "=" in term:
            k, v = term.split("=", 1)
            reqs.append((k.strip(), True, v.strip()))
        else:
            raise bad_request("invalid selector: '%s'; can't understand '%s'" % (s, term))
    return reqs


def field_value(obj, path):
    cur = obj
    for part in path.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return ""
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(reqs, obj):
    for path, eq, val in reqs:
        if (field_value(obj, path) == val) != eq:
            return False
    return True
