#!/usr/bin/env python3
"""Regenerates the checked-in seed corpora of tests/fuzz/corpus/<target>/ from the
repository's own fixtures plus a few hand-written edge cases. Run from anywhere:
    python3 tests/fuzz/make_seeds.py
Seeds are small on purpose: libFuzzer mutates them, it does not need big files."""
import json
import os
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEED = 4096


def read(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


def write_all(target, seeds):
    d = os.path.join(CORPUS, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data[:MAX_SEED])


def small_files(dirs, suffixes):
    out = {}
    for rel in dirs:
        for name in sorted(os.listdir(os.path.join(ROOT, rel))):
            path = os.path.join(rel, name)
            if name.endswith(suffixes) and os.path.isfile(os.path.join(ROOT, path)):
                out[name] = read(path)
    return out


def yaml_seeds():
    seeds = small_files(["tests/golden/yaml", "tests/golden/rigelfiles",
                         "tests/golden/rigelfiles/broken", "tests/golden/rigelfiles/crds",
                         "tests/fixtures/kubeconfig"],
                        (".yaml", ".Rigelfile"))
    seeds.update({
        "anchors.yaml": "base: &b {a: 1, b: [x, y]}\nother:\n  <<: *b\n  c: *b\n"
                        "list: &l [1, 2]\nmerge:\n  <<: [*b, {z: 1}]\n",
        "scalars.yaml": "a: ~\nb: yes\nc: 0x1F\nd: 0o17\ne: 017\nf: 0b101\ng: -.inf\nh: .NaN\n"
                        "i: 1_000\nj: 9223372036854775808\nk: 1e3\nl: '1e3'\nm: 2024-01-01\n"
                        "n: !!str 12\no: !!binary aGVsbG8=\np: !!float 1\nq: \"\\u00e9\\x01\"\n",
        "blocks.yaml": "lit: |\n  line one\n  line two\nfold: >-\n  folded\n  text\n"
                       "keep: |+\n  kept\n\n",
        "multi.yaml": "---\na: 1\n---\n---\n~\n...\n---\n- x\n- y: z\n",
        "keys.yaml": "true: 1\n16: x\n0x10: y\n1.5: z\n\"quoted\": w\n? complex\n: v\n",
        "flow.yaml": "{a: [1, {b: c}], 'd': \"e\", f: [], g: {}}\n",
        "deep.yaml": "[" * 40 + "]" * 40 + "\n",
    })
    return seeds


def json_seeds():
    seeds = {}
    for name, data in small_files(["tests/fixtures/rollout"], (".json",)).items():
        if len(data) <= MAX_SEED:
            seeds[name] = data
        else:  # keep the first object of a big list: whole fixtures are too large
            doc = json.loads(data)
            item = doc["items"][0] if isinstance(doc, dict) and doc.get("items") else doc
            seeds[name] = json.dumps(item, separators=(",", ":")).encode()[:MAX_SEED]
    seeds.update({
        "numbers.json": "[0, -0, 1.0, -1.5e-300, 1e308, 9223372036854775807, "
                        "-9223372036854775808, 9223372036854775808, 0.1, 123456789012345678901]",
        "strings.json": r'["", "\u0000\u001f", "\ud83d\ude00", "\"\\\/\b\f\n\r\t", "é", "\uffff"]',
        "dupes.json": '{"a": 1, "b": 2, "a": 3}',
        "nested.json": "[" * 50 + "{}" + "]" * 50,
        "literals.json": ' {"t": true, "f": false, "n": null, "e": [], "o": {}} \n',
        "invalid-utf8.json": b'{"k\xff": "\xc3\x28\xed\xa0\x80"}',
    })
    return seeds


def kubeconfig_seeds():
    a = read("tests/fixtures/kubeconfig/merge-a.yaml")
    b = read("tests/fixtures/kubeconfig/merge-b.yaml")
    return {
        "merge-a.yaml": a,
        "merge-b.yaml": b,
        "merged.yaml": a + b"\n#file\n" + b,
        "context.yaml": b"#context:ops\n#namespace:robots\n" + b,
        "exec.yaml": """apiVersion: v1
kind: Config
current-context: c
clusters:
- name: k
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
    tls-server-name: kubernetes
    proxy-url: socks5://proxy:1080
contexts:
- name: c
  context: {cluster: k, user: u, namespace: robots}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/login
      args: [--cluster, k]
      env: [{name: A, value: b}]
      interactiveMode: Never
      provideClusterInfo: true
""",
        "certs.yaml": """apiVersion: v1
kind: Config
current-context: c
clusters:
- name: k
  cluster: {server: 'http://localhost:8080', insecure-skip-tls-verify: true}
contexts:
- {name: c, context: {cluster: k, user: u}}
users:
- name: u
  user:
    client-certificate-data: aGVsbG8=
    client-key-data: d29ybGQ
- name: basic
  user: {username: admin, password: secret}
""",
        "rfc3339.txt": "2024-05-01T10:00:00.123+02:00",
        "base64.txt": "aGVs bG8g\nd29y bGQ=",
    }


def template_seeds():
    text = []
    for rel in ["tests/golden/rigelfiles", "tests/golden/rigelfiles/broken", "examples"]:
        for name in sorted(os.listdir(os.path.join(ROOT, rel))):
            path = os.path.join(ROOT, rel, name)
            if os.path.isfile(path):
                with open(path, "r", errors="replace") as f:
                    text.append(f.read())
    found = set()
    for t in text:
        for m in re.finditer(r'"([^"\n]*\{\{[^"\n]*\}\}[^"\n]*)"', t):
            found.add(m.group(1).replace("\\\\", "\\"))
    seeds = {"rigelfile-%02d" % i: s for i, s in enumerate(sorted(found))}
    nul = "\0"
    seeds.update({
        "types": "{{ vars.list }}",
        "interp": "app-{{ vars.name }}-{{ vars.port }}-{{ vars.ratio }}-{{ vars.enabled }}",
        "index": "{{ vars.map.b.c }} {{ vars.map['x-y'][1] }} {{ data.tags[0] }} {{ vars['dashed-name'] }}",
        "filters": "{{ vars.name | upper | lower | trim | replace('-', '_', 1) | string }}",
        "default": "{{ vars.missing | default(vars.nothing) | default('x', true) }}",
        "int": "{{ '42' | int }} {{ vars.ratio | int }} {{ 'x' | int(7) }}",
        "cycle": "{{ vars.ping }}",
        "nested": "{{ vars.nested }}",
        "env": "{{ vars.HOME }}/{{ vars.tpl | default('') }}",
        "unterminated": "{{ vars.name",
        "unknown": "{{ vars.name | lowr }} {{ var.name }}",
        "regex-basic": "{{ vars.image | regex_replace('.*:', '') }}",
        "regex-groups": "{{ vars.image | regex_replace('^(\\w+):(\\w+)-(.*)$', '\\g<3>/\\2/\\1') }}",
        "regex-classes": "{{ vars.image | regex_replace('[^a-z0-9]+', '-') }}",
        "regex-alt": "{{ vars.image | regex_replace('(ros|noetic)|base', '<\\1>') }}",
        "regex-anchors": "{{ vars.image | regex_replace('\\b', '|') }}",
        "regex-quant": "{{ vars.image | regex_replace('o{1,2}?|e*?', '0') }}",
        "regex-lookaround": "{{ vars.image | regex_replace('(?<=:).*', '') }}",
        "pattern-parts": "{{ vars.subj }}" + nul + "(a|b)*c{2,}[^x-z]\\d+?" + nul + "\\1" + nul +
                         "abcabccc123",
        "pattern-empty": nul + "x*" + nul + "-" + nul + "abc",
        "pattern-nested": nul + "((a+)(b|c)?)+$" + nul + "[\\2]" + nul + "aaabaca",
    })
    return seeds


def watch_seeds():
    ev = lambda t, name, rv: json.dumps({"type": t, "object": {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "robots", "resourceVersion": rv},
        "status": {"replicas": 1, "readyReplicas": 1}}}, separators=(",", ":"))
    stream = "\n".join([ev("ADDED", "a", "1"), ev("MODIFIED", "a", "2"),
                        ev("DELETED", "a", "3")]) + "\n"
    bookmark = '{"type":"BOOKMARK","object":{"kind":"Deployment","metadata":{"resourceVersion":"9"}}}\n'
    error = ('{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",'
             '"message":"too old resource version","reason":"Expired","code":410}}\n')

    def hdr(limit, stop, seed):
        return bytes([limit, stop]) + struct.pack("<I", seed)

    return {
        "stream": hdr(0, 0, 1) + stream.encode(),
        "crlf": hdr(0, 0, 7) + stream.replace("\n", "\r\n").encode() + b"\r\n  \t\r\n\n",
        "partial": hdr(0, 0, 3) + (stream + ev("ADDED", "b", "4")[:40]).encode(),
        "bookmark-error": hdr(0, 2, 99) + (bookmark + error + bookmark).encode(),
        "limit": hdr(0x80 | 60, 0, 5) + (bookmark + "x" * 70 + "\n").encode(),
        "not-json": hdr(0, 0, 11) + b'{"type":"ADDED"}\n[1,2]\n{"type":1,"object":{}}\nnull\n',
    }


def lua_codec_seeds():
    """Both codecs through Lua: the hand-written YAML and JSON edge cases and one manifest."""
    y, j = yaml_seeds(), json_seeds()
    names = ["anchors.yaml", "scalars.yaml", "blocks.yaml", "multi.yaml", "keys.yaml",
             "flow.yaml", "deep.yaml", "manifest.yaml"]
    seeds = {n: y[n] for n in names}
    seeds.update({n: j[n] for n in ["numbers.json", "strings.json", "dupes.json",
                                    "literals.json", "invalid-utf8.json", "pvc.json"]})
    return seeds


def rigelfile_seeds():
    """Every Rigelfile of the golden tests (good and broken) and the shipped example."""
    seeds = small_files(["tests/golden/rigelfiles", "tests/golden/rigelfiles/broken"],
                        (".Rigelfile",))
    seeds["Rigelfile.example"] = read("examples/Rigelfile.example")
    return seeds


def main():
    write_all("yaml", yaml_seeds())
    write_all("json", json_seeds())
    write_all("lua_codec", lua_codec_seeds())
    write_all("rigelfile", rigelfile_seeds())
    write_all("kubeconfig", kubeconfig_seeds())
    write_all("template", template_seeds())
    write_all("watch", watch_seeds())
    for t in sorted(os.listdir(CORPUS)):
        print(t, len(os.listdir(os.path.join(CORPUS, t))), "seeds")


if __name__ == "__main__":
    main()
