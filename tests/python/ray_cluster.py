# SPDX-License-Identifier: Apache-2.0
"""A Ray cluster on this machine for tests and the benchmark: a head node (1 CPU) and optionally one
worker node (1 CPU), both `ray start --block` on 127.0.0.1 in process groups of their own, with token
authentication (Ray's default for `ray start`) with a new token of this cluster's own
(RAY_AUTH_TOKEN_PATH, a 0600 file in a private temp folder, one per process, set in os.environ while the cluster
runs so the driver and child processes use it; ~/.ray/auth_token, which a fresh machine does not
have, is never read). Every Ray port listens on 127.0.0.1 only: the nodes
run through ray_node.py with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (see there why). The caller's process
must have LOOPBACK_ENV (RAY_AUTH_MODE=token, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) in os.environ before
importing ray, and subprocess drivers get LocalCluster.env. listening() lists the TCP/UDP sockets the
cluster's processes listen on (`ss`). stop() ends exactly the processes started here (never `ray
stop`, which ends every Ray on the machine). Start is bounded by START_TIMEOUT seconds per node."""
import atexit
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 90
NODE = str(Path(__file__).with_name("ray_node.py"))
# token authentication (Ray's default for `ray start`), and addresses kept on 127.0.0.1 (ray_node.py)
LOOPBACK_ENV = {"RAY_AUTH_MODE": "token", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


_TOKEN = None


def _token_file() -> Path:
    """A new random Ray token in a 0600 file of a private temp folder, one per process (removed at exit)."""
    global _TOKEN
    if _TOKEN is None:
        folder = Path(tempfile.mkdtemp(prefix="qtool-ray-token-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "auth_token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        _TOKEN = path
    return _TOKEN


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli():
    exe = Path(sys.executable).with_name("ray")
    return str(exe) if exe.exists() else shutil.which("ray")


class LocalCluster:
    """`ray start --block` for a head and one worker node, each in its own process group so that
    stopping kills exactly the processes started here (never `ray stop`, which ends every Ray on
    the machine)."""

    def __init__(self, tmp: Path, workers: int = 1):
        self.workers = workers
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs = {}
        self.tmp = tmp
        # every process of the test, the driver and `qtool sweep --ray` included, runs with LOOPBACK_ENV
        # and the token of this cluster: a new random one in a file of its own (0600) named by
        # RAY_AUTH_TOKEN_PATH, never the user's ~/.ray/auth_token (a user's own cluster keeps it)
        # (one token per process: Ray keeps the first token it reads, so every cluster this process
        # starts shares it)
        token = _token_file()
        self._saved_env = {k: os.environ.get(k) for k in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")}
        os.environ.pop("RAY_AUTH_TOKEN", None)
        os.environ["RAY_AUTH_TOKEN_PATH"] = str(token)  # the driver in this process (ray.init)
        env = dict(os.environ, **LOOPBACK_ENV)
        self.env = env
        common = ["--block", "--num-cpus=1", "--node-ip-address=127.0.0.1", "--disable-usage-stats"]
        try:
            self._start_all(env, common, tmp)
        except BaseException:
            self.stop()
            raise

    def _start_all(self, env, common, tmp):
        self._start("head", [sys.executable, NODE, "start", "--head", f"--port={self.port}", "--include-dashboard=false",
                             f"--temp-dir={tmp}", *common], env)
        self._wait_nodes(1)
        if self.workers:
            self._start("worker", [sys.executable, NODE, "start", f"--address={self.address}", *common], env)
            self._wait_nodes(2)

    def _start(self, name, cmd, env):
        log = open(self.tmp / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def _wait_nodes(self, n):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"ray {name} exited: {(self.tmp / f'{name}.log').read_text()[-2000:]}")
            try:
                r = subprocess.run([ray_cli(), "status", f"--address={self.address}"], capture_output=True, text=True,
                                   env=self.env, timeout=30)
            except subprocess.TimeoutExpired:
                continue
            if r.returncode == 0 and r.stdout.count("node_") >= n:
                return
            time.sleep(1)
        raise TimeoutError(f"the Ray cluster did not reach {n} nodes in {START_TIMEOUT} s")

    def node_pids(self, name, prefix):
        """PIDs of node `name` (its process group and their children: Ray puts each worker in a
        process group of its own) whose command line starts with `prefix` (a Ray worker running a
        task is titled ray::<function name>)."""
        group, procs = self.procs[name].pid, {}
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                stat = (d / "stat").read_text()
                ppid = int(stat[stat.rindex(")") + 2:].split()[1])
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                procs[int(d.name)] = (ppid, os.getpgid(int(d.name)), cmd)
            except (OSError, ProcessLookupError, ValueError):
                continue
        node = {pid for pid, (_, pgid, _) in procs.items() if pgid == group}
        return [pid for pid, (ppid, _, cmd) in procs.items() if (pid in node or ppid in node) and cmd.startswith(prefix)]

    def listening(self, extra_pids=()):
        """[(local address, port, process name, pid)] of every TCP/UDP socket in the listening state
        (`ss -Hltunp`) held by the cluster's processes (both nodes, their Ray workers) or extra_pids
        (the driver)."""
        pids = {pid for name in self.procs for pid in self.node_pids(name, "")} | set(extra_pids)
        out = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True, check=True).stdout
        found = []
        for line in out.splitlines():
            f = line.split()
            if len(f) < 7 or "users:" not in f[-1]:
                continue
            local = f[4]
            addr, port = local.rsplit(":", 1)
            for user in f[-1][len("users:(("):-2].split("),("):
                parts = user.split(",")
                pid = int(parts[1].split("=")[1])
                if pid in pids:
                    found.append((addr.strip("[]"), int(port), parts[0].strip('"'), pid))
        return found

    def stop(self):
        workers = [pid for name in self.procs for pid in self.node_pids(name, "")]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for p in self.procs.values():
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and any(p.poll() is None for p in self.procs.values()):
                time.sleep(0.5)
        for pid in workers:  # Ray workers have process groups of their own: end the ones started here
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for k, v in getattr(self, "_saved_env", {}).items():  # the caller's token settings back
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        self._saved_env = {}
