"""Operator commands: API keys and programme files, against a local or a deployed stack.

    python -m loyalty program validate programs/demo.yaml
    python -m loyalty program push my-programme.yaml --parameter /loyalty/prod/program
    python -m loyalty keys create --name web-shop --scopes enroll earn read
    python -m loyalty keys list
    python -m loyalty keys revoke <key_id>
    python -m loyalty reconcile
    python -m loyalty.cli import members.jsonl [--yes]      (docs/imports.md; `loyalty.cli` is this CLI too)
    python -m loyalty.cli import --resume <import_id> --yes

The what-if replay is a development tool that runs the local stack in process, so it lives with it in the
repository, not in the shipped layer: `python -m loyalty_local.whatif` (`make what-if`).

Keys and reconcile use TABLE_NAME (the stack's `TableName` output) and the usual AWS credentials; for the
local stack, `--local http://127.0.0.1:3000` (the API's URL, as `make run` prints it) points them at its
embedded AWS, which the stack names at `GET /_local/aws` (the embedded AWS's own URL works too). A URL where
nothing answers, or a call that AWS refuses, is one line on stderr and exit code 2.

Import speaks the HTTP API instead (LOYALTY_URL, default http://127.0.0.1:3000, and an admin key, LOYALTY_KEY,
default the local stack's lk_local_admin): `loyalty.edge.cli_import`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit


class CommandError(Exception):
    """The command cannot run as asked: the message says why, in one line."""


def _program(args: argparse.Namespace) -> int:
    from loyalty.program.rules import ProgramError, load_program_file

    try:
        program = load_program_file(args.file)
    except (ProgramError, OSError) as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    if args.action == "validate":
        print(
            f"ok: {program.program_id} ({program.name}): {len(program.tiers)} tiers, "
            f"{len(program.campaigns)} campaigns, {len(program.rewards)} rewards"
        )
        return 0
    from loyalty.store.parameters import write_parameter

    document = json.dumps(program.model_dump(mode="json", exclude_defaults=True), separators=(",", ":"))
    write_parameter(args.parameter, document)
    print(
        f"pushed {program.program_id} to {args.parameter} ({len(document)} bytes); functions pick it up within a minute"
    )
    return 0


def _keys(args: argparse.Namespace) -> int:
    _point_at(args)
    from loyalty.edge import auth

    if args.action == "create":
        try:
            token = auth.create_key(args.name, args.scopes)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"created key for {args.name} (scopes: {' '.join(args.scopes)}); shown once, store it now:")
        print(token)
    elif args.action == "list":
        for key in auth.list_keys():
            state = f"revoked {key['revoked_at']}" if key.get("revoked_at") else "active"
            print(f"{key['key_id']}  {key['name']:<24} {' '.join(key['scopes'])}  ({state})")  # type: ignore[arg-type]
    else:
        if not auth.revoke(args.key_id):
            print(f"no key {args.key_id}", file=sys.stderr)
            return 1
        print(f"revoked {args.key_id}")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    _point_at(args)
    from loyalty.reports.reconcile import reconcile_all

    report = reconcile_all()
    for d in report.differences:
        print(f"DIFF {d.member_id} {d.figure}: member says {d.on_member}, ledger says {d.from_ledger}")
    print(f"reconciled {report.members} members, {report.entries} entries: {len(report.differences)} differences")
    return 1 if report.differences else 0


def _point_at(args: argparse.Namespace) -> None:
    if args.local:
        found = _local_aws(args.local)
        os.environ["AWS_ENDPOINT_URL"] = found["endpoint"]
        if found.get("dynamodb"):  # `AWS_ENDPOINT_URL_DYNAMODB=... make run`: the table lives there
            os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = found["dynamodb"]
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        os.environ.setdefault("TABLE_NAME", found.get("table") or "LoyaltyTable")
    if args.table:
        os.environ["TABLE_NAME"] = args.table


def _local_aws(url: str) -> dict[str, str]:
    """Where the local stack at `url` (its API's URL) keeps its embedded AWS, as `GET /_local/aws` says; a URL
    that answers that route with something else is taken as the embedded AWS's own (its door for tools)."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname:
        raise CommandError(f"--local {url!r} is not a URL; give the one `make run` prints, e.g. http://127.0.0.1:3000")
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/_local/aws", timeout=10) as answer:  # noqa: S310 - http(s) only
            found = json.loads(answer.read())
    except urllib.error.HTTPError:  # something answers, not the stack's API: the embedded AWS itself, or not AWS at all
        return {"endpoint": url}
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CommandError(
            f"nothing answers at {url} ({reason}); is `make run` running? give the URL it prints"
        ) from None
    except ValueError:
        return {"endpoint": url}
    if not isinstance(found, dict) or not isinstance(found.get("endpoint"), str):
        return {"endpoint": url}
    return {k: v for k, v in found.items() if isinstance(v, str)}


def main(argv: list[str] | None = None, prog: str = "python -m loyalty") -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    program = sub.add_parser("program", help="validate or push a programme file")
    program.add_argument("action", choices=["validate", "push"])
    program.add_argument("file")
    program.add_argument("--parameter", help="SSM parameter name (push)")
    keys = sub.add_parser("keys", help="create, list or revoke API keys")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("key_id", nargs="?")
    keys.add_argument("--name")
    keys.add_argument("--scopes", nargs="+", default=[])
    keys.add_argument("--table", help="table name (default: TABLE_NAME)")
    keys.add_argument("--local", metavar="URL", help="the local stack's URL (make run's, e.g. http://127.0.0.1:3000)")
    audit = sub.add_parser("reconcile", help="recompute every member from the ledger; exit 1 on a difference")
    audit.add_argument("--table", help="table name (default: TABLE_NAME)")
    audit.add_argument("--local", metavar="URL", help="the local stack's URL (make run's, e.g. http://127.0.0.1:3000)")
    from loyalty.edge import cli_import

    cli_import.add_arguments(
        sub.add_parser("import", help="bring members in from a JSONL or CSV file: check, then apply")
    )
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from loyalty.store.failures import aws_failure

        said = aws_failure(exc)
        if said is None:
            raise
        where = f" at {os.environ.get('AWS_ENDPOINT_URL')}" if getattr(args, "local", None) else ""
        print(f"error: the AWS call{where} failed: {said}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "reconcile":
        return _reconcile(args)
    if args.command == "import":
        from loyalty.edge import cli_import

        return cli_import.run(args)
    if args.command == "program":
        if args.action == "push" and not args.parameter:
            parser.error("push needs --parameter")
        return _program(args)
    if args.action == "create" and not args.name:
        parser.error("create needs --name")
    if args.action == "revoke" and not args.key_id:
        parser.error("revoke needs a key id")
    return _keys(args)


if __name__ == "__main__":
    sys.exit(main())
