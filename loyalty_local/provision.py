"""Create the template's resources in an AWS endpoint (moto locally and in tests) and seed them."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3

from loyalty_local.template import Template

LOCAL_KEYS = {
    "lk_local_checkout": ("local checkout", ["enroll", "earn", "read", "redeem"]),
    "lk_local_admin": ("local admin", ["enroll", "earn", "read", "redeem", "admin"]),
}
LOCAL_PARTNER_SECRETS = {
    "demo-partner": "demo-partner-secret",
    "other-partner": "other-partner-secret",
}


def create_tables(template: Template, client: Any | None = None) -> list[str]:
    client = client or boto3.client("dynamodb")
    names = []
    for spec in template.table_definitions():
        # another endpoint (DynamoDB Local, a real account) may already have it
        with contextlib.suppress(client.exceptions.ResourceInUseException):
            client.create_table(**spec)
        names.append(spec["TableName"])
    return names


def create_queues(template: Template, client: Any | None = None) -> dict[str, str]:
    """Every queue first, then the redrive policies (a dead-letter queue must exist to be named)."""
    client = client or boto3.client("sqs")
    urls: dict[str, str] = {}
    queues = template.queues()
    for logical_id, props in queues.items():
        attributes = {
            k: str(v) for k, v in props.items() if k in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
        }
        urls[logical_id] = client.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)[
            "QueueUrl"
        ]
    for logical_id, props in queues.items():
        if props.get("RedrivePolicy"):
            client.set_queue_attributes(
                QueueUrl=urls[logical_id], Attributes={"RedrivePolicy": json.dumps(props["RedrivePolicy"])}
            )
    return urls


def create_buckets(template: Template) -> list[str]:
    """Every AWS::S3::Bucket (the import bucket), by its local name."""
    s3 = boto3.client("s3")
    names = []
    for logical_id in template.of_type("AWS::S3::Bucket"):
        name = template.physical_name(logical_id)
        s3.create_bucket(Bucket=name)
        names.append(name)
    return names


def create_bus(template: Template) -> list[str]:
    events = boto3.client("events")
    names = []
    for logical_id in template.of_type("AWS::Events::EventBus"):
        name = template.physical_name(logical_id)
        events.create_event_bus(Name=name)
        names.append(name)
    return names


def create_archives(template: Template) -> list[str]:
    """The template's EventBridge archives: each is a rule on its bus whose target keeps every matching event.

    The local stack lists the domain events from the archive (loyalty_local.capture)."""
    events = boto3.client("events")
    names = []
    for logical_id, res in template.of_type("AWS::Events::Archive").items():
        props = template.resolve(res.get("Properties") or {})
        name = template.physical_name(logical_id)
        events.create_archive(
            ArchiveName=name,
            EventSourceArn=props["SourceArn"],
            EventPattern=json.dumps(props.get("EventPattern") or {}),
            RetentionDays=int(props.get("RetentionDays") or 0),
        )
        names.append(name)
    return names


def create_rules(template: Template) -> list[str]:
    """The template's EventBridge rules on its bus, with their SQS targets (the webhook dispatcher's queue):
    moto's bus sends each matching event to the queue, as EventBridge does."""
    events = boto3.client("events")
    names = []
    for logical_id, res in template.of_type("AWS::Events::Rule").items():
        props = template.resolve(res.get("Properties") or {})
        bus = str(props.get("EventBusName") or "default")
        events.put_rule(Name=logical_id, EventBusName=bus, EventPattern=json.dumps(props.get("EventPattern") or {}))
        targets = [{"Id": str(t["Id"]), "Arn": str(t["Arn"])} for t in props.get("Targets") or []]
        if targets:
            events.put_targets(Rule=logical_id, EventBusName=bus, Targets=targets)
        names.append(logical_id)
    return names


def put_program(template: Template, document: str) -> None:
    ssm = boto3.client("ssm")
    for logical_id in template.of_type("AWS::SSM::Parameter"):
        ssm.put_parameter(
            Name=template.physical_name(logical_id),
            Value=document,
            Type="String",
            Tier="Advanced",
            Overwrite=True,
        )


def program_document(template: Template) -> str:
    """The programme document the stack runs (its SSM parameter: a document, or `bundled:<name>`)."""
    ssm = boto3.client("ssm")
    name = template.physical_name(next(iter(template.of_type("AWS::SSM::Parameter"))))
    return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])


def put_partner_secret(secret_id: str, secret: str) -> None:
    """A partner's signing secret (the list of its current secrets), created or replaced."""
    client = boto3.client("secretsmanager")
    try:
        client.create_secret(Name=secret_id, SecretString=json.dumps([secret]))
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=secret_id, SecretString=json.dumps([secret]))


def seed_partner_secrets(secrets: dict[str, str] = LOCAL_PARTNER_SECRETS) -> None:
    for partner, secret in secrets.items():
        put_partner_secret(f"loyalty/partners/{partner}", secret)


def seed_keys() -> None:
    from loyalty.edge import auth

    for token, (name, scopes) in LOCAL_KEYS.items():
        auth.create_key(name, scopes, token=token)


def provision(template: Template, program_document: str = "bundled:demo") -> dict[str, Any]:
    """Everything the local stack (or an end-to-end test) needs, created and seeded."""
    create_tables(template)
    queues = create_queues(template)
    create_buckets(template)
    create_bus(template)
    archives = create_archives(template)
    create_rules(template)
    put_program(template, program_document)
    seed_partner_secrets()
    seed_keys()
    return {"queues": queues, "archives": archives}
