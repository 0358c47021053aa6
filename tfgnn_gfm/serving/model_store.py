"""Model versions on disk: discovery, polling and load-then-swap.

Each model has a base path holding one integer-named folder per version
(``BASE/NAME/<version>/saved_model.pb``). The store lists those folders,
applies the model's version policy (the highest version by default) and
keeps the chosen versions loaded, as TF Serving's file-system source and
availability-preserving manager do:

- a new version is loaded completely before it is served; the versions it
  replaces are unloaded only once some wanted version is available, so no
  request finds the model missing. A request that already holds the old
  version finishes on it (a servable lives as long as someone uses it);
- a version that fails to load (garbage ``saved_model.pb``, missing
  variables, a folder still being written) is reported in the status as
  ``END`` with its error and is left out of the policy, so the previous
  version keeps serving; it is retried only when its files change. The
  status shows the error without server paths (the base path reads
  ``<base_path>``); the log has the full message;
- a version folder that appears while the server runs is loaded once its
  files have stopped changing between two polls.

Polling runs in a background thread (``start_polling``); requests read the
served versions without waiting for it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from typing import Callable, Iterable

from tfgnn_gfm.serving import status
from tfgnn_gfm.serving.model_config import ModelConfig, ModelServerConfig
from tfgnn_gfm.serving.status import StatusError, invalid_argument, not_found

_LOG = logging.getLogger(__name__)

START = "START"
LOADING = "LOADING"
AVAILABLE = "AVAILABLE"
UNLOADING = "UNLOADING"
END = "END"

_INT64_MAX = 2**63 - 1

# (name, version, path) -> a servable (see servable.load_servable).
Loader = Callable[[str, int, str], object]


@dataclasses.dataclass
class VersionState:
  """The state of one version, as TF Serving's status API reports it.

  Attributes:
    version: version number.
    state: START, LOADING, AVAILABLE, UNLOADING or END.
    error_code: canonical code of the load error ("OK" if none).
    error_message: the load error.
  """

  version: int
  state: str
  error_code: str = status.OK
  error_message: str = ""

  def to_json(self) -> dict:
    """The ``ModelVersionStatus`` JSON object."""
    return {"version": str(self.version), "state": self.state,
            "status": {"error_code": self.error_code,
                       "error_message": self.error_message}}


def _default_loader(name: str, version: int, path: str) -> object:
  from tfgnn_gfm.serving.servable import load_servable
  return load_servable(name, version, path)


def _fingerprint(path: str) -> tuple:
  """Names, sizes and modification times of every file under a folder."""
  entries = []
  for root, dirs, files in os.walk(path):
    dirs.sort()
    for file_name in sorted(files):
      full = os.path.join(root, file_name)
      try:
        stat = os.stat(full)
      except OSError:
        continue
      entries.append((os.path.relpath(full, path), stat.st_size,
                      stat.st_mtime_ns))
  return tuple(entries)


def list_versions(base_path: str) -> dict[int, str]:
  """Integer-named subfolders of a base path: version -> folder.

  Args:
    base_path: the model's base path.

  Returns:
    The versions found (empty if the base path does not exist).
  """
  try:
    names = os.listdir(base_path)
  except OSError:
    return {}
  versions = {}
  for name in names:
    if not name.isdigit():
      continue
    version = int(name)
    path = os.path.join(base_path, name)
    if version <= _INT64_MAX and os.path.isdir(path):
      versions[version] = path
  return versions


class _Model:
  """The versions of one model and which of them are served."""

  def __init__(self, config: ModelConfig):
    self.config = config
    self.states: dict[int, VersionState] = {}
    # Replaced as a whole (never mutated) so readers need no lock.
    self.served: dict[int, object] = {}
    self.failed: dict[int, tuple] = {}   # version -> fingerprint at failure
    self.pending: dict[int, tuple] = {}  # version -> fingerprint last seen
    self.warned_empty = False


class ModelStore:
  """The served versions of every configured model.

  Args:
    config: the models to serve.
    loader: loads one version; defaults to ``servable.load_servable``.
      Raises ``StatusError`` (or any exception) when the version is bad.
    unloader: called with each servable taken out of service (optional).
  """

  def __init__(self, config: ModelServerConfig, loader: Loader | None = None,
               unloader: Callable[[object], None] | None = None):
    self._config = config
    self._models = {m.name: _Model(m) for m in config.models}
    self._loader = loader or _default_loader
    self._unloader = unloader
    self._lock = threading.RLock()
    self._poll_lock = threading.Lock()
    self._stop = threading.Event()
    self._thread: threading.Thread | None = None

  @property
  def config(self) -> ModelServerConfig:
    """The served configuration."""
    return self._config

  @property
  def model_names(self) -> list[str]:
    """Configured model names, in config order."""
    return [m.name for m in self._config.models]

  def __repr__(self) -> str:
    served = {name: sorted(m.served) for name, m in self._models.items()}
    return f"ModelStore(served={served})"

  # -- Polling -----------------------------------------------------------------

  def poll(self, initial: bool = False) -> None:
    """Scans every base path once and loads/unloads versions.

    Args:
      initial: load new versions at once (at start-up) instead of waiting
        for their files to be unchanged for one more poll.
    """
    with self._poll_lock:
      for model in self._models.values():
        try:
          self._poll_model(model, initial)
        except Exception:
          _LOG.exception("polling model %s failed", model.config.name)

  def start_polling(self, interval_seconds: float) -> None:
    """Polls every ``interval_seconds`` in a background thread.

    Args:
      interval_seconds: the wait between polls; 0 or less polls no more.
    """
    if interval_seconds <= 0 or self._thread is not None:
      return
    self._stop.clear()

    def loop():
      while not self._stop.wait(interval_seconds):
        self.poll()

    self._thread = threading.Thread(target=loop, name="gfm-serve-poller",
                                    daemon=True)
    self._thread.start()

  def stop(self, unload: bool = True) -> None:
    """Stops polling and (by default) unloads every served version."""
    self._stop.set()
    if self._thread is not None:
      self._thread.join()
      self._thread = None
    if unload:
      with self._poll_lock:
        for model in self._models.values():
          for version in sorted(model.served):
            self._unload(model, version)

  def _set_state(self, model: _Model, version: int, state: str,
                 error: StatusError | None = None) -> None:
    with self._lock:
      model.states[version] = VersionState(
          version, state, error.code if error else status.OK,
          error.message if error else "")

  def _poll_model(self, model: _Model, initial: bool) -> None:
    name = model.config.name
    on_disk = list_versions(model.config.base_path)
    if not on_disk and not model.warned_empty:
      _LOG.warning("No versions of servable %s found under base path %s",
                   name, model.config.base_path)
    model.warned_empty = not on_disk
    # Failed versions stay out until their files change.
    for version in list(model.failed):
      if version not in on_disk:
        del model.failed[version]
      elif _fingerprint(on_disk[version]) != model.failed[version]:
        _LOG.info("files of %s version %d changed; retrying", name, version)
        del model.failed[version]
    for version in list(model.pending):
      if version not in on_disk:
        del model.pending[version]
    candidates = {v for v in on_disk if v not in model.failed}
    wanted = model.config.version_policy.select(candidates)
    for version in sorted(wanted - set(model.served), reverse=True):
      self._maybe_load(model, version, on_disk[version], initial)
    # Recompute: a failed load drops out and an older version may be wanted.
    candidates = {v for v in on_disk if v not in model.failed}
    wanted = model.config.version_policy.select(candidates)
    if initial:
      for version in sorted(wanted - set(model.served), reverse=True):
        self._maybe_load(model, version, on_disk[version], initial)
      wanted = model.config.version_policy.select(
          {v for v in on_disk if v not in model.failed})
    if not wanted or wanted & set(model.served):
      for version in sorted(set(model.served) - wanted):
        self._unload(model, version)

  def _maybe_load(self, model: _Model, version: int, path: str,
                  initial: bool) -> None:
    name = model.config.name
    fingerprint = _fingerprint(path)
    if not initial and model.pending.get(version) != fingerprint:
      # New or still changing: wait until a poll finds it unchanged.
      model.pending[version] = fingerprint
      self._set_state(model, version, START)
      return
    model.pending.pop(version, None)
    self._set_state(model, version, LOADING)
    _LOG.info("Loading servable version {name: %s version: %d} from %s",
              name, version, path)
    started = time.monotonic()
    try:
      servable = self._loader(name, version, path)
    except Exception as e:
      error = e if isinstance(e, StatusError) else StatusError(
          status.UNKNOWN, f"{type(e).__name__}: {e}")
      # The fingerprint after the attempt: a retry needs a newer change.
      model.failed[version] = _fingerprint(path)
      self._set_state(model, version, END, StatusError(
          error.code, status.without_server_paths(
              error.message, {model.config.base_path: "<base_path>"})))
      _LOG.error("Failed to load servable version {name: %s version: %d}: "
                 "%s", name, version, error.to_string())
      return
    with self._lock:
      served = dict(model.served)
      served[version] = servable
      model.served = served
    self._set_state(model, version, AVAILABLE)
    _LOG.info("Successfully loaded servable version {name: %s version: %d} "
              "in %.1f s", name, version, time.monotonic() - started)

  def _unload(self, model: _Model, version: int) -> None:
    self._set_state(model, version, UNLOADING)
    with self._lock:
      served = dict(model.served)
      servable = served.pop(version, None)
      model.served = served
    if self._unloader is not None and servable is not None:
      self._unloader(servable)
    self._set_state(model, version, END)
    _LOG.info("Unloaded servable version {name: %s version: %d}",
              model.config.name, version)

  # -- Requests ----------------------------------------------------------------

  def _model(self, name: str) -> _Model | None:
    return self._models.get(name)

  def resolve_label(self, name: str, label: str) -> int:
    """The version a label points to.

    Raises:
      StatusError: INVALID_ARGUMENT for an unknown label (as TF Serving).
    """
    model = self._model(name)
    if model is None or label not in model.config.version_labels:
      raise invalid_argument(f"Unrecognized servable version label: {label}")
    return model.config.version_labels[label]

  def get(self, name: str, version: int | None = None,
          label: str | None = None) -> object:
    """The servable a request is for.

    Args:
      name: model name.
      version: a specific version, or None.
      label: a version label, or None (not both).

    Returns:
      The served servable: the requested version, or the highest served.

    Raises:
      StatusError: NOT_FOUND ("Servable not found for request: ...") or
        INVALID_ARGUMENT (unknown label, both version and label).
    """
    if version is not None and label is not None:
      raise invalid_argument(f"Both model version ({version}) and model "
                             f"version label ({label}) cannot be supplied.")
    if label is not None:
      version = self.resolve_label(name, label)
    model = self._model(name)
    served = model.served if model is not None else {}
    if version is None:
      if not served:
        raise not_found(f"Servable not found for request: Latest({name})")
      return served[max(served)]
    if version not in served:
      raise not_found(
          f"Servable not found for request: Specific({name}, {version})")
    return served[version]

  def served_versions(self, name: str) -> list[int]:
    """Versions of a model now served, highest first."""
    model = self._model(name)
    return sorted(model.served, reverse=True) if model else []

  def version_states(self, name: str) -> list[VersionState]:
    """Every version of a model seen so far, highest first."""
    model = self._model(name)
    if model is None:
      return []
    with self._lock:
      return [dataclasses.replace(model.states[v])
              for v in sorted(model.states, reverse=True)]

  def status(self, name: str, version: int | None = None,
             label: str | None = None) -> dict:
    """The ``GetModelStatusResponse`` JSON of a model.

    Args:
      name: model name.
      version: only this version.
      label: only the version of this label.

    Returns:
      ``{"model_version_status": [...]}``, highest version first.

    Raises:
      StatusError: NOT_FOUND for an unknown model or version,
        INVALID_ARGUMENT for an unknown label.
    """
    if version is not None and label is not None:
      raise invalid_argument(f"Both model version ({version}) and model "
                             f"version label ({label}) cannot be supplied.")
    if label is not None:
      version = self.resolve_label(name, label)
    states = self.version_states(name)
    if version is not None:
      states = [s for s in states if s.version == version]
      if not states:
        raise not_found(f"Could not find version {version} of model {name}")
    elif not states:
      raise not_found(f"Could not find any versions of model {name}")
    return {"model_version_status": [s.to_json() for s in states]}

  def wait_until_served(self, names: Iterable[str] | None = None,
                        timeout: float = 60.0) -> bool:
    """Waits until each model has a served version (for tests and tools)."""
    deadline = time.monotonic() + timeout
    names = list(names or self.model_names)
    while time.monotonic() < deadline:
      if all(self.served_versions(n) for n in names):
        return True
      time.sleep(0.05)
    return False
