"""The Rigel side of rigelk8s: two Rigel plugins that run the rigelk8s binary.

OrchestrationPlugin (`plugin: "rigelk8s_rigel.OrchestrationPlugin"`) deploys the job's
orchestration config. Rigel renders the job's `with` (its `{{ vars.x }}` and
`{{ data.x }}` templates, see TEMPLATES below) and this plugin runs
`rigelk8s deploy -o json --progress --config -` with that data as JSON on stdin:

    setup    find the rigelk8s binary ($RIGELK8S_BIN, else `rigelk8s` on PATH)
    start    deploy and wait until Ready; every progress line of rigelk8s is logged to
             Rigel's log as it comes
    process  record the JSON report in Rigel's shared data (see SHARED DATA)
    stop     with results.source_path set: `rigelk8s results` copies it out of the newest
             ready pod (kubectl cp) into results.destination (else ./results), recorded
             as shared data `rigelk8s_results`; then, if the job's with has
             `cleanup: true`, `rigelk8s delete --config -` removes what start deployed
             (storage is kept)

LuaPlugin (`plugin: "rigelk8s.lua"` or `"rigelk8s_rigel.LuaPlugin"`) runs a Lua job the way
`rigelk8s sequence` does: `with.script` (relative to the Rigelfile's directory, which is
Rigel's working directory) is called as script(config, job) inside `rigelk8s run`, with
config = the rendered `with` without script/args/cleanup/timeout and job = {name,
sequence, rigelfile, data, config_file}. Rigel does not tell a plugin its job or sequence
name: job.name is the script's file name without .lua and job.sequence is nil. Values the
script stores in job.data become Rigel shared data for the jobs after it. Rigel loads
`rigelk8s.lua` as attribute `lua` of a Python module `rigelk8s`, which this distribution
ships (rigelk8s/__init__.py), so the stock plugin name works under both runners.

Keys of `with` that steer the plugins and are not part of the config: `cleanup` (bool),
`timeout` (a duration such as 10m, passed as --timeout); LuaPlugin also `script` and
`args` (a list of extra command-line arguments for the script).

IMAGE: when the config names no `application_image`, the image is found as
`rigelk8s deploy` finds it in a Rigelfile: vars.base_image, else the `image` of a BuildX
job (plugin rigel.plugins.core.BuildXPlugin, the first by job name) in ./Rigelfile (the
file Rigel reads), else ros:<distro>-ros-core, with a warning in Rigel's log. Rigel's
`application.distro` fills in a missing `distro`. The choice is logged.

SHARED DATA: Rigel looks `{{ data.NAME }}` up by the whole dotted NAME, so nested fields
are published under flat keys too. After a deploy: `rigelk8s` (the report, a dict),
`rigelk8s_<field>` for each scalar field of the report (rigelk8s_namespace,
rigelk8s_state, rigelk8s_exit_code, rigelk8s_diagnosis, ...) plus
rigelk8s_deployment_name, and the same values under `rigelk8s.<field>`, so that both
`{{ data.rigelk8s_namespace }}` and `{{ data.rigelk8s.namespace }}` work under Rigel.

TEMPLATES: Rigel's own template engine (rigel/files/decoder.py) only replaces
`{{ vars.NAME }}` and `{{ data.NAME }}` (regex {{[a-zA-Z0-9_\\s\\-\\!\\?\\.]+}}): no
filters (`| default(...)`, `| regex_replace(...)`), no indexing (`[0]`), no literals. Such a
template reaches this plugin as literal text, and this plugin refuses it (exit code 2)
with the path of the value, instead of deploying the text. `rigelk8s sequence` renders
all of them.

FAILURES raise RigelK8sError, a subclass of Rigel's RigelError when Rigel is importable,
so `rigel run` prints "ERROR - <rigelk8s's diagnosis>" and exits 1 (Rigel exits 1 for
every RigelError). The rigelk8s exit code is kept as `.code`: 1 a failed rollout, 2 a bad
configuration, 3 an unreachable cluster, 4 a timeout.

The cluster is the one of $KUBECONFIG (or ~/.kube/config); $RIGELK8S_ARGS adds flags to
every call (e.g. "--context robot-1").
"""
import json
import logging
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading

from rigel.plugins import Plugin as PluginBase

try:
    from rigel.exceptions import RigelError as _ErrorBase
except ImportError:  # a Rigel without rigel.exceptions (or the test stand-in)
    _ErrorBase = Exception

try:
    from rigel.loggers import get_logger as _get_logger
except ImportError:  # an older Rigel, or the test stand-in: a logger configured like Rigel's
    def _get_logger():
        logger = logging.getLogger("Rigel")
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())
        return logger

LOGGER = _get_logger()

# Keys of `with` that steer this plugin; everything else is the orchestration config.
PLUGIN_KEYS = ("cleanup", "timeout")
LUA_KEYS = ("script", "args")
BUILDX_PLUGINS = ("rigel.plugins.core.BuildXPlugin",)
# What Rigel's decoder replaces (rigel/files/decoder.py); anything else in {{ }} is text.
RIGEL_TEMPLATE = re.compile(r"{{[a-zA-Z0-9_\s\-\!\?\.]+}}")
ANY_TEMPLATE = re.compile(r"{{.*?}}", re.S)
LUA_RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lua_job.lua")


class RigelK8sError(_ErrorBase):
    """A rigelk8s call failed. `code` is its exit code, `diagnosis` its explanation and
    `result` its JSON report (when it printed one). A RigelError when Rigel is installed."""

    def __init__(self, message, code=1, diagnosis=None, result=None):
        super().__init__(message)  # RigelError(base) keeps it as .base
        self.message = message
        self.code = code
        self.diagnosis = diagnosis
        self.result = result

    def __str__(self):
        return self.message


def _as_dict(value):
    """Rigel hands data over as dicts or as pydantic models; both become dicts."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    for method in ("model_dump", "dict"):
        if hasattr(value, method):
            return dict(getattr(value, method)())
    return dict(vars(value))


def _as_bool(value, name):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off", ""):
        return False
    raise RigelK8sError("%s: expected true or false, got %r" % (name, value), code=2)


def _leftover_templates(value, path, out):
    """Paths and texts of the {{ }} that Rigel did not replace (filters, indexing, ...)."""
    if isinstance(value, dict):
        for k, v in value.items():
            _leftover_templates(k, "%s.%s" % (path, k), out)
            _leftover_templates(v, "%s.%s" % (path, k), out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _leftover_templates(v, "%s[%d]" % (path, i), out)
    elif isinstance(value, str):
        for m in ANY_TEMPLATE.findall(value):
            out.append((path, m))
    return out


def _refuse_leftover_templates(data, path):
    found = _leftover_templates(data, path, [])
    if not found:
        return
    lines = ["%s: %s is not a template Rigel can render: it only replaces {{ vars.NAME }} and "
             "{{ data.NAME }} (no filters such as | default, no [index])" % (p, t) for p, t in found]
    raise RigelK8sError("\n".join(lines) + "\nWrite the value out, give it a plain {{ vars.NAME }}, or run "
                        "this sequence with `rigelk8s sequence`, which renders filters.", code=2)


def _rigel_render(text, global_vars):
    """Replaces {{ vars.NAME }} as Rigel's decoder does (vars, then the environment)."""
    def one(m):
        name = re.sub(r"[{}\s]", "", m.group(0))
        header, _, var = name.partition(".")
        if header != "vars":
            return m.group(0)
        if var in global_vars:
            return str(global_vars[var])
        return os.environ.get(var, m.group(0))
    if not isinstance(text, str):
        return text
    whole = text.strip()
    if RIGEL_TEMPLATE.fullmatch(whole):
        name = re.sub(r"[{}\s]", "", whole).partition(".")[2]
        if whole.replace(" ", "").startswith("{{vars.") and name in global_vars:
            return global_vars[name]
    return RIGEL_TEMPLATE.sub(one, text)


class _Runner:
    """Runs rigelk8s: stdin from a string, stdout collected, every stderr line (and, for
    Lua jobs, every stdout line) logged as it comes."""

    @staticmethod
    def find_binary():
        binary = os.environ.get("RIGELK8S_BIN") or shutil.which("rigelk8s")
        if not binary or not os.access(binary, os.X_OK):
            raise RigelK8sError(
                "rigelk8s is not installed: put the rigelk8s binary on PATH or set RIGELK8S_BIN "
                "to its path (RIGELK8S_BIN=%s)" % (os.environ.get("RIGELK8S_BIN") or "unset"), code=2)
        return binary

    @staticmethod
    def run(argv, stdin_text, log_stdout=False, prefix="rigelk8s"):
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True, bufsize=1)
        except OSError as err:
            raise RigelK8sError("cannot run %s: %s" % (argv[0], err), code=2)
        stdout_lines, stderr_lines = [], []

        def pump(stream, keep, log):
            for line in stream:
                keep.append(line)
                if log:
                    LOGGER.info("%s: %s", prefix, line.rstrip("\n"))
            stream.close()

        readers = [threading.Thread(target=pump, args=(proc.stdout, stdout_lines, log_stdout), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, stderr_lines, True), daemon=True)]
        for r in readers:
            r.start()
        try:
            if stdin_text is not None:
                proc.stdin.write(stdin_text)
            proc.stdin.close()
        except BrokenPipeError:
            pass
        code = proc.wait()
        for r in readers:
            r.join()
        return code, "".join(stdout_lines), "".join(stderr_lines)


def _diagnosis(report, stderr, code):
    diagnosis = None
    if isinstance(report, dict):
        diagnosis = report.get("diagnosis") or report.get("message")
    if not diagnosis:
        diagnosis = stderr.strip() or "no diagnosis (exit code %d)" % code
    return diagnosis


def _publish(shared, prefix, report, extra=None):
    """shared[prefix] = report, and its scalar fields under flat and dotted keys."""
    shared[prefix] = report
    fields = {k: v for k, v in report.items() if isinstance(v, (str, int, float, bool)) or v is None}
    fields.update(extra or {})
    for k, v in fields.items():
        shared["%s_%s" % (prefix, k)] = v
        shared["%s.%s" % (prefix, k)] = v


class OrchestrationPlugin(PluginBase):
    """Deploys the job's orchestration config with rigelk8s (see the module's doc)."""

    def __init__(self, raw_data, global_data, application, providers_data, shared_data=None):
        shared = shared_data if shared_data is not None else {}
        super().__init__(raw_data, global_data, application, providers_data, shared)
        self._shared = shared
        data = _as_dict(getattr(self, "raw_data", None) if getattr(self, "raw_data", None) is not None
                        else raw_data)
        self.cleanup = _as_bool(data.pop("cleanup", False), "cleanup")
        self.timeout = data.pop("timeout", None)
        _refuse_leftover_templates(data, "with")
        self.config, self.image_source = self._with_defaults(data, _as_dict(global_data), application)
        self.binary = None
        self.result = None

    @staticmethod
    def _fields(config):
        return config.get("orchestration") if isinstance(config.get("orchestration"), dict) else config

    @classmethod
    def _with_defaults(cls, data, global_vars, application):
        """The config with Rigel's application.distro and the image filled in where it
        names none, and where the image came from."""
        config = json.loads(json.dumps(data, default=str))
        fields = cls._fields(config)
        distro = getattr(application, "distro", None)
        if distro is None and isinstance(application, dict):
            distro = application.get("distro")
        if distro and "distro" not in fields:
            fields["distro"] = str(distro)
        if "application_image" in fields:
            return config, "application_image"
        image, source = cls.find_image(global_vars)
        if image:
            fields["application_image"] = str(image)
        return config, source

    @staticmethod
    def find_image(global_vars, rigelfile="Rigelfile"):
        """(image, source) as `rigelk8s deploy` finds it: vars.base_image, else a BuildX
        job's with.image in the Rigelfile Rigel runs (./Rigelfile), else (None, "default")."""
        image = global_vars.get("base_image")
        if image:
            if isinstance(image, str) and ANY_TEMPLATE.search(image):
                raise RigelK8sError("vars.base_image: %s is not a template Rigel can render: it only replaces "
                                    "{{ vars.NAME }} and {{ data.NAME }} (no filters such as | default); write "
                                    "the value out, e.g. define vars.REGISTRY and use {{ vars.REGISTRY }}" % image,
                                    code=2)
            return str(image), "vars.base_image"
        try:
            import yaml  # PyYAML: a dependency of Rigel itself
        except ImportError:
            return None, "default"
        try:
            with open(rigelfile) as f:
                doc = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            return None, "default"
        jobs = doc.get("jobs") if isinstance(doc, dict) else None
        if not isinstance(jobs, dict):
            return None, "default"
        for name in sorted(jobs, key=str):
            job = jobs[name]
            if not isinstance(job, dict) or job.get("plugin") not in BUILDX_PLUGINS:
                continue
            with_ = job.get("with")
            if isinstance(with_, dict) and with_.get("image"):
                image = _rigel_render(with_["image"], global_vars)
                path = "jobs.%s.with.image" % name
                if not isinstance(image, str) or ANY_TEMPLATE.search(image):
                    raise RigelK8sError("%s: %s: the BuildX image %r is not a template Rigel can render "
                                        "(only {{ vars.NAME }}); set application_image in the orchestration "
                                        "job, or write the image out" % (os.path.abspath(rigelfile), path,
                                                                         with_["image"]), code=2)
                return image, path
        return None, "default"

    # ---------------------------------------------------------------- Rigel lifecycle

    def setup(self):
        self.binary = _Runner.find_binary()

    def start(self):
        fields = self._fields(self.config)
        if self.image_source == "default":
            LOGGER.warning("rigelk8s: no application_image, vars.base_image or BuildX job image: "
                           "deploying plain ros:%s-ros-core" % fields.get("distro", "noetic"))
        else:
            LOGGER.info("rigelk8s: image %s (from %s)" % (fields.get("application_image"), self.image_source))
        self.result = self._call("deploy")

    def process(self):
        fields = self._fields(self.config)
        _publish(self._shared, "rigelk8s", self.result,
                 {"deployment_name": fields.get("deployment_name", "rigel-k8s-application")})

    def stop(self):
        if self.result is not None:
            self._copy_results()
        if self.cleanup and self.result is not None:
            self._shared["rigelk8s_cleanup"] = self._call("delete")

    def _copy_results(self):
        """As the Python plugin's stop() did: results.source_path is copied out of the
        newest ready pod (`rigelk8s results`, kubectl cp) before anything is cleaned up."""
        fields = self.config.get("orchestration") if isinstance(self.config.get("orchestration"), dict) \
            else self.config
        results = fields.get("results") if isinstance(fields, dict) else None
        if not isinstance(results, dict) or not results.get("source_path"):
            return
        argv = [self.binary, "results", "--json", "--config", "-"] + shlex.split(os.environ.get("RIGELK8S_ARGS", ""))
        proc = subprocess.run(argv, input=json.dumps(self.config), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        if proc.returncode != 0:
            diagnosis = proc.stderr.strip() or "no diagnosis (exit code %d)" % proc.returncode
            raise RigelK8sError("rigelk8s results failed (exit code %d): %s" % (proc.returncode, diagnosis),
                                code=proc.returncode, diagnosis=diagnosis)
        self._shared["rigelk8s_results"] = json.loads(proc.stdout)

    def run(self):
        """Older Rigel versions call setup/run/stop."""
        self.start()
        self.process()

    # ---------------------------------------------------------------- rigelk8s calls

    def _call(self, command):
        if self.binary is None:
            self.setup()
        argv = [self.binary, command, "-o", "json", "--progress", "--no-color", "--config", "-"]
        if self.timeout:
            argv += ["--timeout", str(self.timeout)]
        argv += shlex.split(os.environ.get("RIGELK8S_ARGS", ""))
        code, out, err = _Runner.run(argv, json.dumps(self.config))
        report = None
        try:
            report = json.loads(out) if out.strip() else None
        except ValueError:
            report = None
        if code != 0:
            diagnosis = _diagnosis(report, err, code)
            raise RigelK8sError("rigelk8s %s failed (exit code %d): %s" % (command, code, diagnosis),
                                code=code, diagnosis=diagnosis, result=report)
        if not isinstance(report, dict):
            raise RigelK8sError("rigelk8s %s printed no JSON report: %r" % (command, out[:200]), code=1)
        return report


class LuaPlugin(PluginBase):
    """Runs a `rigelk8s.lua` job's script with `rigelk8s run` (see the module's doc)."""

    def __init__(self, raw_data, global_data, application, providers_data, shared_data=None):
        shared = shared_data if shared_data is not None else {}
        super().__init__(raw_data, global_data, application, providers_data, shared)
        self._shared = shared
        data = _as_dict(getattr(self, "raw_data", None) if getattr(self, "raw_data", None) is not None
                        else raw_data)
        self.cleanup = _as_bool(data.pop("cleanup", False), "cleanup")  # accepted, as rigelk8s sequence does
        self.timeout = data.pop("timeout", None)
        script = data.pop("script", None)
        args = data.pop("args", None) or []
        if not isinstance(script, str) or not script:
            raise RigelK8sError("with.script: a rigelk8s.lua job needs script: (a Lua file, relative to the "
                                "Rigelfile)", code=2)
        if not isinstance(args, list):
            raise RigelK8sError("with.args: expected a list of command-line arguments", code=2)
        _refuse_leftover_templates(data, "with")
        self.script = script if os.path.isabs(script) else os.path.abspath(script)
        self.args = [str(a) for a in args]
        self.config = json.loads(json.dumps(data, default=str))
        self.binary = None
        self.data = None

    def setup(self):
        self.binary = _Runner.find_binary()
        if not os.path.isfile(self.script):
            raise RigelK8sError("with.script: %s: no such file (the script is relative to the Rigelfile's "
                                "directory, where rigel runs)" % self.script, code=2)

    def start(self):
        if self.binary is None:
            self.setup()
        name = os.path.splitext(os.path.basename(self.script))[0]
        with tempfile.TemporaryDirectory(prefix="rigelk8s-lua-") as tmp:
            spec_path = os.path.join(tmp, "job.json")
            data_path = os.path.join(tmp, "data.json")
            flags = shlex.split(os.environ.get("RIGELK8S_ARGS", ""))
            if self.timeout:
                flags += ["--timeout", str(self.timeout)]
            shared = json.loads(json.dumps({k: v for k, v in self._shared.items()}, default=str))
            spec = {"script": self.script, "config": self.config, "args": self.args, "flags": flags,
                    "name": name, "rigelfile": os.path.abspath("Rigelfile"), "data": shared,
                    "data_out": data_path, "config_file": os.path.join(tmp, "config.json")}
            fd = os.open(spec_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(spec, f)
            code, out, err = _Runner.run([self.binary, "run", LUA_RUNNER, spec_path], None, log_stdout=True,
                                         prefix=name)
            data = None
            if os.path.exists(data_path):
                with open(data_path) as f:
                    data = json.load(f)
        if isinstance(data, dict):
            for k, v in data.items():
                if self._shared.get(k) != v:
                    self._shared[k] = v
            self.data = data
        if code != 0:
            lines = [line for line in err.strip().splitlines() if line.strip()]
            diagnosis = lines[-1] if lines else "no diagnosis (exit code %d)" % code
            raise RigelK8sError("rigelk8s.lua job %s failed (exit code %d): %s" % (name, code, diagnosis),
                                code=code, diagnosis=diagnosis)

    def run(self):
        self.start()
