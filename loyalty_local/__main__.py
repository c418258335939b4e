"""`make run`: serve the loyalty API locally. `python -m loyalty_local --help` lists the options."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from loyalty_local.template import TEMPLATE, Template, TemplateError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loyalty_local", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 3000))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--program", type=Path, help="a programme file (YAML or JSON); default: the demo")
    args = parser.parse_args(argv)

    from loyalty.program.rules import ProgramError, load_program_file

    from loyalty_local.server import LocalStack, StartupError

    document = "bundled:demo"
    if args.program:
        try:
            load_program_file(args.program)  # refuse a bad programme before anything starts
        except (ProgramError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        document = args.program.read_text(encoding="utf-8")
    try:
        template = Template(args.template)
        stack = LocalStack(template, program_document=document)
        server = stack.serve(args.port, args.host)
    except (TemplateError, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from loyalty_local.provision import LOCAL_KEYS, LOCAL_PARTNER_SECRETS

    base = f"http://{args.host}:{server.server_address[1]}"
    lines = [
        f"Loyalty API (local) on {base}   programme: {args.program or 'demo'}",
        f"  console: {base}/console   docs: {base}/docs",
        f"  embedded AWS (moto, in this process); for tools outside it: {stack.emulator.url}",
        "  API keys:",
        *[f"    Authorization: Bearer {k}   scopes: {' '.join(s)}" for k, (_, s) in LOCAL_KEYS.items()],
        "  partners (Loyalty-Signature secrets):",
        *[f"    {p}: {s}" for p, s in LOCAL_PARTNER_SECRETS.items()],
        "  local routes: POST /_local/jobs/{job}, GET /_local/events, POST /_local/clock, GET /_local/history,",
        f"    GET /_local/aws (tools take the API's URL: python -m loyalty reconcile --local {base})",
        "  webhooks: sent by this process, by the stack's clock (POST /v1/webhooks; http:// to 127.0.0.1 allowed)",
        "  Ctrl-C stops.",
    ]
    print("\n".join(lines), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stack.emulator.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # The embedded AWS is this process's memory and goes with it: leave without tearing the heap down
    # object by object (half a second of every stop, for nothing kept).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
