"""In-memory object store with a global resourceVersion, per-resource event history and watchers."""
import collections
import queue
import threading

from .common import dumpb
from .selectors import match_fields, match_reqs


class Event:
    __slots__ = ("rv", "type", "obj", "old", "raw", "ns")

    def __init__(self, rv, typ, obj, old, raw):
        self.rv = rv
        self.type = typ
        self.obj = obj
        self.old = old
        self.raw = raw
        self.ns = obj.get("metadata", {}).get("namespace")


class Watcher:
    MAX_QUEUE = 20000

    def __init__(self, rkey, ns, label_reqs, field_reqs):
        self.rkey = rkey
        self.ns = ns
        self.label_reqs = label_reqs
        self.field_reqs = field_reqs
        self.q = queue.SimpleQueue()
        self.closed = False
        self.overflow = False
        self.abort = False  # abrupt close (fault injection)

    def matches(self, obj):
        if obj is None:
            return False
        md = obj.get("metadata") or {}
        if self.ns is not None and md.get("namespace") != self.ns:
            return False
        if self.label_reqs and not match_reqs(self.label_reqs, md.get("labels")):
            return False
        if self.field_reqs and not match_fields(self.field_reqs, obj):
            return False
        return True

    def translate(self, ev):
        """Returns (type, raw) for this watcher or None, applying selector transitions."""
        if self.ns is not None and ev.ns != self.ns:
            return None
        if not self.label_reqs and not self.field_reqs:
            return ev.type, ev.raw
        new_m = self.matches(ev.obj) if ev.type != "DELETED" else False
        old_m = self.matches(ev.old) if ev.old is not None else False
        if ev.type == "DELETED":
            return ("DELETED", ev.raw) if self.matches(ev.obj) else None
        if new_m and old_m:
            return "MODIFIED", ev.raw
        if new_m:
            return "ADDED", ev.raw
        if old_m:
            return "DELETED", ev.raw
        return None

    def push(self, ev):
        if self.closed:
            return
        t = self.translate(ev)
        if t is None:
            return
        if self.q.qsize() > self.MAX_QUEUE:
            self.overflow = True
            self.close()
            return
        self.q.put(t)

    def close(self, abort=False):
        if abort:
            self.abort = True
        if not self.closed:
            self.closed = True
            self.q.put(None)


class Store:
    def __init__(self, history=1000):
        self.lock = threading.RLock()
        self.rv = 1
        self.history = history
        self.data = {}          # rkey -> {(ns, name): obj}
        self.raw = {}           # rkey -> {(ns, name): bytes}
        self.hist = {}          # rkey -> deque[Event]
        self.hist_min = {}      # rkey -> oldest rv that can still be watched from
        self.watchers = {}      # rkey -> set[Watcher]
        self.by_uid = {}        # uid -> (rkey, ns, name)
        self.children = {}      # owner uid -> set[(rkey, ns, name)]
        self.hooks = []
        self.writes = 0

    # ------------------------------------------------------------------ reads
    def get(self, rkey, ns, name):
        m = self.data.get(rkey)
        return m.get((ns, name)) if m else None

    def get_raw(self, rkey, ns, name):
        m = self.raw.get(rkey)
        return m.get((ns, name)) if m else None

    def items(self, rkey, ns=None):
        """Snapshot list of (key, obj) sorted by (namespace, name)."""
        with self.lock:
            m = self.data.get(rkey)
            if not m:
                return []
            if ns is None:
                keys = sorted(m)
            else:
                keys = sorted(k for k in m if k[0] == ns)
            return [(k, m[k]) for k in keys]

    def objs(self, rkey, ns=None):
        with self.lock:
            m = self.data.get(rkey)
            if not m:
                return []
            if ns is None:
                return list(m.values())
            return [o for k, o in m.items() if k[0] == ns]

    def count(self, rkey):
        return len(self.data.get(rkey) or ())

    def by_uid_get(self, uid):
        k = self.by_uid.get(uid)
        if not k:
            return None
        return self.get(*k)

    def children_of(self, uid, rkey=None):
        with self.lock:
            out = []
            for k in list(self.children.get(uid, ())):
                if rkey is not None and k[0] != rkey:
                    continue
                o = self.get(*k)
                if o is not None:
                    out.append(o)
            return out

    # ----------------------------------------------------------------- writes
    def next_rv(self):
        self.rv += 1
        return self.rv

    def _index(self, rkey, key, old, new):
        if old is not None:
            ouid = old["metadata"].get("uid")
            for ref in old["metadata"].get("ownerReferences") or []:
                s = self.children.get(ref.get("uid"))
                if s is not None:
                    s.discard((rkey,) + key)
                    if not s:
                        del self.children[ref.get("uid")]
            if new is None and ouid:
                self.by_uid.pop(ouid, None)
        if new is not None:
            uid = new["metadata"].get("uid")
            if uid:
                self.by_uid[uid] = (rkey,) + key
            for ref in new["metadata"].get("ownerReferences") or []:
                self.children.setdefault(ref.get("uid"), set()).add((rkey,) + key)

    def _emit(self, rkey, typ, obj, old, raw):
        ev = Event(self.rv, typ, obj, old, raw)
        h = self.hist.get(rkey)
        if h is None:
            h = self.hist[rkey] = collections.deque()
        h.append(ev)
        if len(h) > self.history:
            gone = h.popleft()
            self.hist_min[rkey] = gone.rv
        for w in list(self.watchers.get(rkey, ())):
            w.push(ev)
        for hook in self.hooks:
            hook(rkey, typ, obj, old)

    def put(self, rkey, obj, created=False):
        """Store obj (already complete). Assigns resourceVersion. Returns (obj, raw)."""
        with self.lock:
            md = obj["metadata"]
            key = (md.get("namespace"), md["name"])
            m = self.data.setdefault(rkey, {})
            old = m.get(key)
            md["resourceVersion"] = str(self.next_rv())
            raw = dumpb(obj)
            m[key] = obj
            self.raw.setdefault(rkey, {})[key] = raw
            self._index(rkey, key, old, obj)
            self.writes += 1
            self._emit(rkey, "ADDED" if old is None else "MODIFIED", obj, old, raw)
            return obj, raw

    def remove(self, rkey, ns, name):
        with self.lock:
            m = self.data.get(rkey)
            if not m or (ns, name) not in m:
                return None
            old = m.pop((ns, name))
            self.raw[rkey].pop((ns, name), None)
            self._index(rkey, (ns, name), old, None)
            final = dict(old)
            final["metadata"] = dict(old["metadata"])
            final["metadata"]["resourceVersion"] = str(self.next_rv())
            raw = dumpb(final)
            self.writes += 1
            self._emit(rkey, "DELETED", final, old, raw)
            return final

    def drop_rkey(self, rkey):
        """Remove every object of a resource (CRD deletion)."""
        with self.lock:
            for (ns, name) in list((self.data.get(rkey) or {}).keys()):
                self.remove(rkey, ns, name)
            for w in list(self.watchers.get(rkey, ())):
                w.close()

    # ---------------------------------------------------------------- watches
    def watch(self, rkey, ns, label_reqs, field_reqs, since_rv, initial_list):
        """Registers a watcher. Returns (watcher, backlog[(type, raw)], current_rv) or raises ValueError('expired', oldest)."""
        with self.lock:
            w = Watcher(rkey, ns, label_reqs, field_reqs)
            backlog = []
            if initial_list:
                for _, obj in self.items(rkey, ns):
                    if w.matches(obj):
                        md = obj["metadata"]
                        backlog.append(("ADDED", self.raw[rkey][(md.get("namespace"), md["name"])]))
            else:
                minrv = self.hist_min.get(rkey, 0)
                if since_rv < minrv:
                    raise ValueError(minrv)
                h = self.hist.get(rkey) or ()
                start = len(h)
                while start > 0 and h[start - 1].rv > since_rv:
                    start -= 1
                for i in range(start, len(h)):
                    t = w.translate(h[i])
                    if t is not None:
                        backlog.append(t)
            self.watchers.setdefault(rkey, set()).add(w)
            return w, backlog, self.rv

    def unwatch(self, w):
        with self.lock:
            s = self.watchers.get(w.rkey)
            if s:
                s.discard(w)

    def all_watchers(self):
        with self.lock:
            return [w for s in self.watchers.values() for w in s]
