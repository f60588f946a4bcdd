"""The Rigel side of rigelk8s.

Rigel renders the job's `with` (templates, shared data) and hands it to this plugin,
which runs `rigelk8s deploy -o json --config -` with that data as JSON on stdin. Rigel's
lifecycle maps onto rigelk8s like this:

    setup    find the rigelk8s binary ($RIGELK8S_BIN, else `rigelk8s` on PATH)
    start    deploy and wait until Ready (what `rigelk8s deploy` does)
    process  record the JSON report in Rigel's shared data, as shared_data["rigelk8s"]
             (so later jobs can use {{ data.rigelk8s.namespace }}, ...)
    stop     with results.source_path set: `rigelk8s results` copies it out of the newest
             ready pod (kubectl cp) into results.destination (else ./results), recorded
             as shared_data["rigelk8s_results"]; then, if the job's with has
             `cleanup: true`, `rigelk8s delete --config -` removes what start deployed
             (storage is kept)

Keys of `with` that are for this plugin and not part of the orchestration config:
`cleanup` (bool) and `timeout` (a duration such as 10m, passed as --timeout). When the
config names no distro or image, Rigel's `application.distro` and `vars.base_image` are
filled in, as rigelk8s does for a Rigelfile. The cluster is the one of $KUBECONFIG (or
~/.kube/config); $RIGELK8S_ARGS adds flags to every call (e.g. "--context robot-1").

A failure raises RigelK8sError with rigelk8s's diagnosis and exit code (`.code`, which
Rigel's command line exits with): 1 a failed rollout, 2 a bad configuration, 3 an
unreachable cluster, 4 a timeout.
"""
import json
import os
import shlex
import shutil
import subprocess
import sys

from rigel.plugins import Plugin as PluginBase

# Keys of `with` that steer this plugin; everything else is the orchestration config.
PLUGIN_KEYS = ("cleanup", "timeout")


class RigelK8sError(Exception):
    """A rigelk8s call failed. `code` is its exit code, `diagnosis` its explanation and
    `result` its JSON report (when it printed one)."""

    def __init__(self, message, code=1, diagnosis=None, result=None):
        super().__init__(message)
        self.code = code
        self.diagnosis = diagnosis
        self.result = result


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


class OrchestrationPlugin(PluginBase):
    """Deploys the job's orchestration config with rigelk8s (see the module's doc)."""

    def __init__(self, raw_data, global_data, application, providers_data, shared_data=None):
        shared = shared_data if shared_data is not None else {}
        super().__init__(raw_data, global_data, application, providers_data, shared)
        self._shared = shared
        data = _as_dict(raw_data)
        self.cleanup = _as_bool(data.pop("cleanup", False), "cleanup")
        self.timeout = data.pop("timeout", None)
        self.config = self._with_defaults(data, _as_dict(global_data), application)
        self.binary = None
        self.result = None

    @staticmethod
    def _with_defaults(data, global_vars, application):
        """The config with Rigel's application.distro and vars.base_image filled in where
        it names none (the orchestration fields may sit under `orchestration:` or not)."""
        config = json.loads(json.dumps(data, default=str))
        fields = config.get("orchestration") if isinstance(config.get("orchestration"), dict) else config
        distro = getattr(application, "distro", None)
        if distro is None and isinstance(application, dict):
            distro = application.get("distro")
        if distro and "distro" not in fields:
            fields["distro"] = str(distro)
        image = global_vars.get("base_image")
        if image and "application_image" not in fields:
            fields["application_image"] = str(image)
        return config

    # ---------------------------------------------------------------- Rigel lifecycle

    def setup(self):
        self.binary = os.environ.get("RIGELK8S_BIN") or shutil.which("rigelk8s")
        if not self.binary or not os.access(self.binary, os.X_OK):
            raise RigelK8sError(
                "rigelk8s is not installed: put the rigelk8s binary on PATH or set RIGELK8S_BIN "
                "to its path (RIGELK8S_BIN=%s)" % (os.environ.get("RIGELK8S_BIN") or "unset"), code=2)

    def start(self):
        self.result = self._call("deploy")

    def process(self):
        self._shared["rigelk8s"] = self.result

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
        argv = [self.binary, command, "-o", "json", "--config", "-"]
        if self.timeout:
            argv += ["--timeout", str(self.timeout)]
        argv += shlex.split(os.environ.get("RIGELK8S_ARGS", ""))
        try:
            proc = subprocess.run(argv, input=json.dumps(self.config), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        except OSError as err:
            raise RigelK8sError("cannot run %s: %s" % (self.binary, err), code=2)
        if proc.stderr:
            sys.stderr.write(proc.stderr)
        report = None
        try:
            report = json.loads(proc.stdout) if proc.stdout.strip() else None
        except ValueError:
            report = None
        if proc.returncode != 0:
            diagnosis = None
            if isinstance(report, dict):
                diagnosis = report.get("diagnosis") or report.get("message")
            if not diagnosis:
                diagnosis = proc.stderr.strip() or "no diagnosis (exit code %d)" % proc.returncode
            raise RigelK8sError("rigelk8s %s failed (exit code %d): %s" % (command, proc.returncode, diagnosis),
                                code=proc.returncode, diagnosis=diagnosis, result=report)
        if not isinstance(report, dict):
            raise RigelK8sError("rigelk8s %s printed no JSON report: %r" % (command, proc.stdout[:200]),
                                code=1)
        return report
