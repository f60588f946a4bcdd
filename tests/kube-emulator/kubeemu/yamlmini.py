"""A small YAML subset parser (block maps/sequences, scalars, block scalars, flow collections).

Enough for Kubernetes manifests sent as application/apply-patch+yaml. Not a full YAML
implementation: no anchors/aliases, tags, complex keys or multi-line flow collections.
"""
import json
import re


class YAMLError(ValueError):
    pass


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_OCT = re.compile(r"^0o?[0-7]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
         "yes": True, "Yes": True, "YES": True, "no": False, "No": False, "NO": False,
         "on": True, "On": True, "ON": True, "off": False, "Off": False, "OFF": False}


def resolve_plain(s):
    if s in ("", "~", "null", "Null", "NULL"):
        return None
    if s in _BOOL:
        return _BOOL[s]
    if _INT.match(s):
        return int(s)
    if _HEX.match(s):
        return int(s, 16)
    if _OCT.match(s) and s != "0":
        return int(s.replace("0o", ""), 8)
    if _FLOAT.match(s):
        return float(s)
    if s in (".inf", ".Inf", "+.inf"):
        return float("inf")
    if s in ("-.inf", "-.Inf"):
        return float("-inf")
    return s


def _strip_comment(s):
    """Remove a trailing ' #comment' that is outside quotes."""
    inq = None
    for i, ch in enumerate(s):
        if inq:
            if ch == inq:
                if inq == "'" and i + 1 < len(s) and s[i + 1] == "'":
                    continue
                inq = None
            elif ch == "\\" and inq == '"':
                continue
        elif ch in "'\"" and (i == 0 or s[i - 1] in " \t[{,:"):
            inq = ch
        elif ch == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
    return s.rstrip()


def _find_colon(s):
    """Index of the mapping ':' in a block line, or -1."""
    inq = None
    depth = 0
    i = 0
    while i < len(s):
        ch = s[i]
        if inq:
            if ch == "\\" and inq == '"':
                i += 2
                continue
            if ch == inq:
                inq = None
        elif ch in "'\"" and i == 0:
            inq = ch
        elif ch in "[{":
            if i == 0:
                return -1
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == ":" and depth == 0 and (i + 1 == len(s) or s[i + 1] in " \t"):
            return i
        elif ch == "#" and i > 0 and s[i - 1] in " \t":
            return -1
        i += 1
    return -1


def _unquote(s):
    if s.startswith('"'):
        try:
            return json.loads(s)
        except ValueError:
            body = s[1:-1]
            return body.encode("utf-8").decode("unicode_escape")
    if s.startswith("'"):
        return s[1:-1].replace("''", "'")
    return s


class _Flow:
    def __init__(self, s):
        self.s = s
        self.i = 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            raise YAMLError("unexpected end of flow collection")
        ch = self.s[self.i]
        if ch == "[":
            self.i += 1
            out = []
            self.ws()
            if self.s[self.i:self.i + 1] == "]":
                self.i += 1
                return out
            while True:
                out.append(self.value())
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "]":
                    return out
                if c != ",":
                    raise YAMLError("expected , or ] in flow sequence")
                self.ws()
                if self.s[self.i:self.i + 1] == "]":
                    self.i += 1
                    return out
        if ch == "{":
            self.i += 1
            out = {}
            self.ws()
            if self.s[self.i:self.i + 1] == "}":
                self.i += 1
                return out
            while True:
                k = self.scalar(key=True)
                self.ws()
                if self.s[self.i:self.i + 1] == ":":
                    self.i += 1
                    v = self.value()
                else:
                    v = None
                out[k] = v
                self.ws()
                c = self.s[self.i:self.i + 1]
                self.i += 1
                if c == "}":
                    return out
                if c != ",":
                    raise YAMLError("expected , or } in flow mapping")
                self.ws()
                if self.s[self.i:self.i + 1] == "}":
                    self.i += 1
                    return out
        return self.scalar()

    def scalar(self, key=False):
        self.ws()
        ch = self.s[self.i:self.i + 1]
        if ch in ("'", '"'):
            j = self.i + 1
            while j < len(self.s):
                if self.s[j] == "\\" and ch == '"':
                    j += 2
                    continue
                if self.s[j] == ch:
                    if ch == "'" and self.s[j + 1:j + 2] == "'":
                        j += 2
                        continue
                    break
                j += 1
            raw = self.s[self.i:j + 1]
            self.i = j + 1
            return _unquote(raw)
        j = self.i
        while j < len(self.s) and self.s[j] not in ",]}" and not (self.s[j] == ":" and (j + 1 >= len(self.s) or self.s[j + 1] in " ,]}")):
            j += 1
        raw = self.s[self.i:j].strip()
        self.i = j
        return raw if key else resolve_plain(raw)


def _inline(s):
    s = _strip_comment(s).strip()
    if not s:
        return None
    if s[0] in "[{":
        f = _Flow(s)
        v = f.value()
        return v
    if s[0] in "'\"":
        return _unquote(s)
    if s[0] in "&*!":
        raise YAMLError("anchors, aliases and tags are not supported")
    return resolve_plain(s)


class _Parser:
    def __init__(self, lines):
        self.lines = lines  # list of [indent, text] (text without leading spaces, raw rstrip)
        self.i = 0

    def skip(self):
        while self.i < len(self.lines):
            ind, text = self.lines[self.i]
            if text == "" or text.startswith("#"):
                self.i += 1
                continue
            return True
        return False

    def node(self, min_indent):
        if not self.skip():
            return None
        ind, text = self.lines[self.i]
        if ind < min_indent:
            return None
        if text == "-" or text.startswith("- "):
            return self.seq(ind)
        if _find_colon(text) > 0:
            return self.map(ind)
        self.i += 1
        if text.startswith(("|", ">")):
            return self.block_scalar(text, ind - 1)
        # multi-line plain scalar
        parts = [_strip_comment(text)]
        while self.i < len(self.lines):
            nind, ntext = self.lines[self.i]
            if ntext == "" or nind < min_indent or ntext.startswith("#"):
                break
            parts.append(_strip_comment(ntext))
            self.i += 1
        if len(parts) == 1:
            return _inline(parts[0])
        return " ".join(p.strip() for p in parts)

    def block_scalar(self, header, parent_indent):
        style = header[0]
        chomp = "clip"
        if "-" in header:
            chomp = "strip"
        elif "+" in header:
            chomp = "keep"
        m = re.search(r"[1-9]", header)
        content = []
        block_indent = None
        if m:
            block_indent = parent_indent + 1 + int(m.group(0))
        while self.i < len(self.lines):
            ind, text = self.lines[self.i]
            raw_line = self.raw[self.i]
            if text == "":
                content.append("")
                self.i += 1
                continue
            if block_indent is None:
                if ind <= parent_indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            content.append(raw_line[block_indent:])
            self.i += 1
        trailing = 0
        while content and content[-1] == "":
            content.pop()
            trailing += 1
        if style == "|":
            s = "\n".join(content)
        else:
            out = []
            for line in content:
                if line == "":
                    out.append("\n")
                elif line.startswith((" ", "\t")):
                    out.append("\n" + line + "\n")
                else:
                    if out and not out[-1].endswith("\n"):
                        out.append(" ")
                    out.append(line)
            s = "".join(out).replace("\n ", "\n")
        if chomp == "clip" and content:
            s += "\n"
        elif chomp == "keep":
            s += "\n" * (trailing + 1)
        return s

    def map(self, ind):
        out = {}
        while self.skip():
            cind, text = self.lines[self.i]
            if cind != ind:
                if cind > ind:
                    raise YAMLError("bad indentation of a mapping entry near %r" % text)
                break
            if text.startswith("- ") or text == "-":
                break
            c = _find_colon(text)
            if c <= 0:
                raise YAMLError("expected a mapping entry, found %r" % text)
            key = text[:c].strip()
            if key[:1] in "'\"":
                key = _unquote(key)
            rest = text[c + 1:].strip()
            self.i += 1
            if rest == "" or rest.startswith("#"):
                if self.skip():
                    nind, ntext = self.lines[self.i]
                    if nind == ind and (ntext.startswith("- ") or ntext == "-"):
                        out[key] = self.seq(ind)
                        continue
                    if nind > ind:
                        out[key] = self.node(ind + 1)
                        continue
                out[key] = None
            elif rest[0] in "|>":
                out[key] = self.block_scalar(rest, ind)
            else:
                out[key] = _inline(rest)
        return out

    def seq(self, ind):
        out = []
        while self.skip():
            cind, text = self.lines[self.i]
            if cind != ind or not (text.startswith("- ") or text == "-"):
                if cind > ind:
                    raise YAMLError("bad indentation of a sequence entry near %r" % text)
                break
            rest = text[1:].lstrip()
            if rest == "" or rest.startswith("#"):
                self.i += 1
                out.append(self.node(ind + 1))
                continue
            off = len(text) - len(rest)
            if rest.startswith("- ") or rest == "-" or _find_colon(rest) > 0:
                self.lines[self.i] = [ind + off, rest]
                self.raw[self.i] = " " * (ind + off) + rest
                out.append(self.node(ind + off))
                continue
            self.i += 1
            if rest[0] in "|>":
                out.append(self.block_scalar(rest, ind))
            else:
                out.append(_inline(rest))
        return out


def load_all(text):
    docs = []
    cur = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.rstrip() == "---" or line.startswith("--- "):
            docs.append(cur)
            cur = []
            continue
        if line.rstrip() == "...":
            continue
        cur.append(line)
    docs.append(cur)
    out = []
    for lines in docs:
        if "\t" in "".join(l[:len(l) - len(l.lstrip())] for l in lines):
            raise YAMLError("found character that cannot start any token (tab indentation)")
        parsed = []
        for l in lines:
            stripped = l.rstrip()
            t = stripped.lstrip(" ")
            parsed.append([len(stripped) - len(t), t])
        p = _Parser(parsed)
        p.raw = [l.rstrip() for l in lines]
        if not p.skip():
            continue
        v = p.node(0)
        if p.skip():
            raise YAMLError("unexpected content at line %d: %r" % (p.i + 1, p.lines[p.i][1]))
        out.append(v)
    return out


def load(text):
    docs = load_all(text)
    return docs[0] if docs else None


def _scalar_out(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    s = str(v)
    if s == "" or resolve_plain(s) != s or s[0] in "-?:,[]{}#&*!|>'\"%@`~ " or ": " in s or " #" in s \
            or s.endswith((":", " ")) or "\n" in s:
        return json.dumps(s)
    return s


def dump(v, indent=0):
    """Block-style YAML output (used for kubeconfig files)."""
    pad = " " * indent
    lines = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, dict) and x:
                lines.append("%s%s:" % (pad, _scalar_out(k)))
                lines.append(dump(x, indent + 2))
            elif isinstance(x, list) and x:
                lines.append("%s%s:" % (pad, _scalar_out(k)))
                lines.append(dump(x, indent))
            else:
                lines.append("%s%s: %s" % (pad, _scalar_out(k), "{}" if x == {} else "[]" if x == [] else _scalar_out(x)))
    elif isinstance(v, list):
        for x in v:
            if isinstance(x, (dict, list)) and x:
                sub = dump(x, indent + 2)
                lines.append(pad + "- " + sub.lstrip(" "))
            else:
                lines.append("%s- %s" % (pad, "{}" if x == {} else "[]" if x == [] else _scalar_out(x)))
    else:
        lines.append(pad + _scalar_out(v))
    return "\n".join(lines)
