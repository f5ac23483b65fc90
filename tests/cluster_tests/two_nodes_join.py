"""``ray start`` for a second node of a test cluster on this machine's loopback.

Ray refuses to add a node unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is on, and with it
on it swaps ``127.0.0.1`` (the head's address and this node's) for the machine's network
address, where a loopback-only head does not listen. A real second machine has a real
address and needs none of this: here, in this process only, the multi-node check passes
while the node keeps loopback; the node's own processes inherit the variable off.

Usage: ``python two_nodes_join.py start --address 127.0.0.1:PORT ...`` (``ray``'s arguments).
"""

from __future__ import annotations

import os
import sys

LOOPBACK = "127.0.0.1"


def main() -> int:
    import ray._private.ray_constants as ray_constants
    import ray._private.worker as ray_worker
    from ray._private import services

    ray_constants.ENABLE_RAY_CLUSTER = True  # `ray start --address` checks it
    os.environ[ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR] = "0"  # the node's processes
    node_ip = services.get_node_ip_address

    def loopback(address: str | None = None) -> str:
        return node_ip(address) if ray_worker._global_node is not None else LOOPBACK

    services.get_node_ip_address = loopback
    from ray.scripts.scripts import main as ray_main

    sys.argv = ["ray", *sys.argv[1:]]
    return int(ray_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
