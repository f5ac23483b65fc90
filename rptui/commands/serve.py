"""``rptui serve [PROJECT]``: the app in a web browser, through textual-serve."""

from __future__ import annotations

import argparse
import shlex
import sys

from rptui.errors import UserError


def run(args: argparse.Namespace) -> int:
    from rptui.browser import TokenServer, is_loopback, new_token
    from rptui.commands.common import rptui_command, workspace_from

    if not is_loopback(args.host) and not args.public:
        raise UserError(
            f"refusing to listen on {args.host}: other machines could reach the app there. "
            "Reach it through an SSH tunnel instead (see rptui serve --help), or add --public"
        )
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be 1..65535, got {args.port}")
    workspace_from(args).ensure()
    words = [*rptui_command(args), "--graphics", "halfblocks", "open"]
    words += [args.project] if args.project else []
    server = TokenServer(
        shlex.join(words), host=args.host, port=args.port, token=new_token(), title="rptui"
    )
    if args.public:
        print(
            f"rptui: warning: listening on {args.host}: anyone who can reach it and has the "
            "address below can annotate and train",
            file=sys.stderr,
        )
    print(f"rptui: the app is at {server.url}", flush=True)
    if is_loopback(args.host):
        print(
            f"rptui: from your computer: ssh -N -L {args.port}:127.0.0.1:{args.port} THIS-SERVER, "
            "then open that address there",
            flush=True,
        )
    print("rptui: ctrl+c stops the server", flush=True)
    server.serve()
    return 0
