# SPDX-License-Identifier: Apache-2.0
"""`ray start ...` (same arguments) for a node that stays on 127.0.0.1, used by ray_cluster.py.

Why: on Linux Ray 2.60 replaces a loopback address - in --node-ip-address, in --address and in
ray.init(address=...) - by the address this host reaches the internet from
(ray._private.services.resolve_ip_for_localhost), so the GCS, the raylets and the workers run with
that node IP and their gRPC servers listen on every interface. With the environment variable
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (Ray's single-machine mode, the default on macOS and Windows)
the resolution keeps 127.0.0.1, and Ray's gRPC servers then listen on 127.0.0.1 only (they bind
loopback when the node IP is 127.0.0.1). That mode also makes `ray start --address` refuse to add a
worker node ("Multi-node Ray clusters are not supported on Windows and OSX"): here the `ray start`
command alone sees clusters enabled, so a second node joins, while every address resolution keeps
loopback. The caller sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the environment of this process,
of the driver and of `ray status` (LocalCluster.env)."""
import sys
import types

import ray._private.ray_constants as ray_constants
from ray.scripts import scripts

if not ray_constants.ENABLE_RAY_CLUSTER:
    view = types.ModuleType(ray_constants.__name__)
    view.__dict__.update(ray_constants.__dict__)
    view.ENABLE_RAY_CLUSTER = True  # read by the `ray start` command only (scripts.py)
    scripts.ray_constants = view

if __name__ == "__main__":
    sys.exit(scripts.main())
