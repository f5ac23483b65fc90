"""``rptui status`` and ``rptui stop``: the workspace's embedded Ray."""

from __future__ import annotations

import argparse

from rptui.commands.common import keep_ray_off_the_terminal, workspace_from
from rptui.errors import UserError


def run(args: argparse.Namespace) -> int:
    from cluster.head.embedded import stop
    from cluster.head.status import status

    if args.address:
        raise UserError(
            f"`rptui {args.command}` manages the embedded Ray; a cluster at {args.address} "
            "is managed with Ray's own tools (`ray status`, `ray down`)"
        )
    root = workspace_from(args).root
    if args.command == "status":
        keep_ray_off_the_terminal(args)  # a head that does not answer makes Ray's core talk
        head = status(root)
        if head is None:
            print(f"no embedded Ray runs for workspace {root}")
            return 0
        for line in head.lines():
            print(line)
        return 0
    if stop(root):
        print(f"stopped the embedded Ray of workspace {root}")
    else:
        print(f"no embedded Ray was running for workspace {root}")
    return 0
