"""template.yaml read as the local stack and the tests need it.

Everything local comes from here: the tables (created from the template's own definitions), queues,
the bus, and each function with its handler, environment and events (API routes, SQS sources,
schedules, streams). Intrinsics are resolved to local physical names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's parser (PyYAML's wheels carry it): the template in 11 ms instead of 100, the same data
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class TemplateError(Exception):
    """template.yaml cannot be used: the message says where."""


class _CfnLoader(_SafeLoader):
    pass


def _tag(loader: _SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def load_raw(path: Path = TEMPLATE) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    except FileNotFoundError:
        raise TemplateError(f"{path}: no such file") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path}: no Resources section")
    return data


@dataclass
class Route:
    function: str
    method: str
    path: str  # /v1/members/{member_id}
    authorizer: str | None  # None: no authorizer (partner signatures, openapi)
    regex: re.Pattern[str] = field(init=False, repr=False)
    params: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.params = re.findall(r"{([^}+]+)\+?}", self.path)
        pattern = re.sub(r"{([^}+]+)\+}", r"(?P<\1>.+)", self.path)
        pattern = re.sub(r"{([^}]+)}", r"(?P<\1>[^/]+)", pattern)
        # a REST API hands `/console/` to the `/console` resource (a trailing slash is ignored)
        self.regex = re.compile(f"^{pattern.rstrip('/')}/?$")

    @property
    def specificity(self) -> tuple[int, int]:
        # static segments beat path parameters, as in API Gateway
        segments = self.path.strip("/").split("/")
        return (sum(1 for s in segments if not s.startswith("{")), len(segments))


@dataclass
class Function:
    logical_id: str
    code_dir: Path
    module: str
    attribute: str
    environment: dict[str, str]
    timeout: int
    routes: list[Route] = field(default_factory=list)
    sqs_sources: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)

    @property
    def source(self) -> Path:
        return self.code_dir / f"{self.module.replace('.', '/')}.py"


class Template:
    def __init__(self, path: Path = TEMPLATE, *, stage: str = "local") -> None:
        self.path = path
        self.raw = load_raw(path)
        self.resources: dict[str, Any] = self.raw["Resources"]
        self.parameters = {name: spec.get("Default", "") for name, spec in (self.raw.get("Parameters") or {}).items()}
        self.parameters["Stage"] = stage
        self.region = "us-east-1"
        self.account = "123456789012"
        self.stage = stage

    # -- intrinsics --------------------------------------------------------------------------------
    def physical_name(self, logical_id: str) -> str:
        res = self.resources.get(logical_id)
        if res is None:
            raise TemplateError(f"reference to unknown resource {logical_id!r}")
        props = res.get("Properties") or {}
        kind = res["Type"]
        if kind == "AWS::Events::EventBus" and "Name" in props:
            return str(self.resolve(props["Name"]))
        if kind == "AWS::SSM::Parameter" and "Name" in props:
            return str(self.resolve(props["Name"]))
        if kind == "AWS::S3::Bucket":  # bucket names are lower case
            return f"{logical_id.lower()}-{self.stage}"
        return logical_id

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        service = {
            "AWS::DynamoDB::Table": f"dynamodb:{self.region}:{self.account}:table/{name}",
            "AWS::SQS::Queue": f"sqs:{self.region}:{self.account}:{name}",
            "AWS::Events::EventBus": f"events:{self.region}:{self.account}:event-bus/{name}",
            "AWS::SNS::Topic": f"sns:{self.region}:{self.account}:{name}",
        }.get(kind, f"lambda:{self.region}:{self.account}:function:{name}")
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{name}"
        return f"arn:aws:{service}"

    def queue_url(self, logical_id: str) -> str:
        return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{self.physical_name(logical_id)}"

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "QueueUrl":
            return self.queue_url(logical_id)
        if attribute == "QueueName":
            return self.physical_name(logical_id)
        if attribute == "StreamArn":
            return self.arn(logical_id) + "/stream/local"
        raise TemplateError(f"unsupported attribute {logical_id}.{attribute}")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((name, arg),) = value.items()
            if name == "Ref":
                if arg in self.parameters:
                    return self.parameters[arg]
                pseudo = {
                    "AWS::Region": self.region,
                    "AWS::AccountId": self.account,
                    "AWS::Partition": "aws",
                    "AWS::StackName": f"loyalty-{self.stage}",
                }
                if arg in pseudo:
                    return pseudo[arg]
                if self.resources.get(arg, {}).get("Type") == "AWS::SQS::Queue":
                    return self.queue_url(arg)
                return self.physical_name(arg)
            if name == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(parts[0], parts[1])
            if name == "Fn::Sub":
                text, local = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

                def sub(match: re.Match[str]) -> str:
                    expr = match.group(1)
                    if expr in local:
                        return str(self.resolve(local[expr]))
                    if "." in expr:
                        res, att = expr.split(".", 1)
                        return self.get_att(res, att)
                    return str(self.resolve({"Ref": expr}))

                return re.sub(r"\${([^}!]+)}", sub, text)
            if name == "Fn::If":
                return self.resolve(arg[2])  # conditions are false locally (no prod)
            if name == "Fn::Join":
                return arg[0].join(str(self.resolve(v)) for v in arg[1])
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    # -- resources -------------------------------------------------------------------------------
    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == kind}

    def table_definitions(self) -> list[dict[str, Any]]:
        """create_table arguments for every AWS::DynamoDB::Table, from the template's own properties."""
        out = []
        for logical_id, res in self.of_type("AWS::DynamoDB::Table").items():
            props = self.resolve(res.get("Properties") or {})
            spec: dict[str, Any] = {
                "TableName": props.get("TableName", logical_id),
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if props.get(index_kind):
                    spec[index_kind] = props[index_kind]
            if props.get("StreamSpecification"):
                spec["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
            out.append(spec)
        return out

    def functions(self) -> dict[str, Function]:
        globals_fn = (self.raw.get("Globals") or {}).get("Function") or {}
        global_env = ((globals_fn.get("Environment") or {}).get("Variables")) or {}
        api_auth = self._api_default_authorizers()
        out: dict[str, Function] = {}
        for logical_id, res in self.of_type("AWS::Serverless::Function").items():
            props = res.get("Properties") or {}
            handler = props.get("Handler") or globals_fn.get("Handler")
            code = props.get("CodeUri") or globals_fn.get("CodeUri")
            if not handler or "." not in handler or not code:
                raise TemplateError(f"{logical_id}: needs CodeUri and Handler (module.function)")
            module, attribute = handler.rsplit(".", 1)
            env_raw = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            env = {k: str(self.resolve(v)) for k, v in env_raw.items()}
            fn = Function(
                logical_id=logical_id,
                code_dir=(self.path.parent / code).resolve(),
                module=module,
                attribute=attribute,
                environment=env,
                timeout=int(props.get("Timeout") or globals_fn.get("Timeout") or 3),
            )
            for event_name, event in (props.get("Events") or {}).items():
                kind, eprops = event.get("Type"), event.get("Properties") or {}
                if kind == "Api":
                    api = (eprops.get("RestApiId") or {}).get("Ref", "ServerlessRestApi")
                    auth = (eprops.get("Auth") or {}).get("Authorizer", api_auth.get(api))
                    fn.routes.append(
                        Route(
                            logical_id,
                            str(eprops["Method"]).upper(),
                            eprops["Path"],
                            None if auth == "NONE" else auth,
                        )
                    )
                elif kind == "SQS":
                    fn.sqs_sources.append({"name": event_name, **self.resolve(eprops)})
                elif kind in ("Schedule", "ScheduleV2"):
                    fn.schedules.append({"name": event_name, **self.resolve(eprops)})
                elif kind == "DynamoDB":
                    fn.streams.append({"name": event_name, **eprops})
            out[logical_id] = fn
        return out

    def _api_default_authorizers(self) -> dict[str, str | None]:
        out: dict[str, str | None] = {}
        for logical_id, res in self.of_type("AWS::Serverless::Api").items():
            auth = (res.get("Properties") or {}).get("Auth") or {}
            out[logical_id] = auth.get("DefaultAuthorizer")
        return out

    def authorizer_function(self, name: str) -> str:
        for res in self.of_type("AWS::Serverless::Api").values():
            authorizers = ((res.get("Properties") or {}).get("Auth") or {}).get("Authorizers") or {}
            if name in authorizers:
                arn = authorizers[name]["FunctionArn"]
                target = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
                if target:
                    return str(target[0] if isinstance(target, list) else target.split(".")[0])
        raise TemplateError(f"authorizer {name!r} is not defined on an API")

    def authorizer_cache_seconds(self, name: str) -> int:
        """How long API Gateway caches the authorizer's answer per identity (`ReauthorizeEvery`, SAM's default 300)."""
        for res in self.of_type("AWS::Serverless::Api").values():
            authorizers = ((res.get("Properties") or {}).get("Auth") or {}).get("Authorizers") or {}
            if name in authorizers:
                identity = authorizers[name].get("Identity") or {}
                return int(identity.get("ReauthorizeEvery", 300))
        raise TemplateError(f"authorizer {name!r} is not defined on an API")

    def authorizer_identity_headers(self, name: str) -> list[str]:
        """The headers that identify a caller to the authorizer (and key its cached answer)."""
        for res in self.of_type("AWS::Serverless::Api").values():
            authorizers = ((res.get("Properties") or {}).get("Auth") or {}).get("Authorizers") or {}
            if name in authorizers:
                return [str(h) for h in (authorizers[name].get("Identity") or {}).get("Headers") or ["Authorization"]]
        raise TemplateError(f"authorizer {name!r} is not defined on an API")

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        for res in self.of_type("AWS::Serverless::Api").values():
            found = (res.get("Properties") or {}).get("GatewayResponses")
            if found:
                return dict(found)
        return {}

    def routes(self) -> list[Route]:
        routes = [r for fn in self.functions().values() for r in fn.routes]
        return sorted(routes, key=lambda r: r.specificity, reverse=True)

    def queues(self) -> dict[str, dict[str, Any]]:
        return {k: self.resolve(v.get("Properties") or {}) for k, v in self.of_type("AWS::SQS::Queue").items()}

    def environment(self) -> dict[str, str]:
        """The union of every function's environment (the local stack runs them in one process)."""
        env: dict[str, str] = {}
        for fn in self.functions().values():
            for k, v in fn.environment.items():
                if k in env and env[k] != v:
                    raise TemplateError(f"environment variable {k} differs between functions; name them apart")
                env[k] = v
        return env
