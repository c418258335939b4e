"""template.yaml is the single source of truth: checks that keep the rest of the tree in step with it."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from loyalty_local import openapi_gen, sample_events
from loyalty_local.template import Template
from loyalty_local.validate_template import security_problems, translate

ROOT = Path(__file__).resolve().parents[2]


def test_tables_come_from_the_template():
    (table,) = Template().table_definitions()
    assert table["TableName"] == "LoyaltyTable"
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} >= {"ledger", "expiry", "holds"}
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_the_security_walk_catches_an_open_route_and_a_wildcard(tmp_path):
    text = (ROOT / "template.yaml").read_text()
    text = text.replace(
        "Path: /v1/program, Method: get}",
        "Path: /v1/program, Method: get, Auth: {Authorizer: NONE}}",
    )
    text = text.replace("Action: [dynamodb:GetItem]\n", "Action: [dynamodb:*]\n", 1)
    text = text.replace("Resource: !GetAtt LoyaltyTable.Arn\n", 'Resource: !Sub "${LoyaltyTable.Arn}/*"\n', 1)
    broken = tmp_path / "template.yaml"
    broken.write_text(text)
    for sub in ("functions", "layers"):
        (tmp_path / sub).symlink_to(ROOT / sub)
    problems = security_problems(Template(broken), translate(broken))
    joined = "\n".join(problems)
    assert "GET /v1/program has no authorizer" in joined
    assert "wildcard action 'dynamodb:*'" in joined
    assert "wildcard resource on a table" in joined


def test_the_real_template_passes_the_security_walk():
    assert security_problems(Template(), translate(ROOT / "template.yaml")) == []


def test_every_route_has_a_sample_event_and_the_events_are_current():
    expected = sample_events.render(Template())
    on_disk = {p.name: p.read_text() for p in (ROOT / "events").glob("*.json")}
    assert on_disk == expected, "run: python -m loyalty_local.sample_events"


def test_the_openapi_document_is_generated_from_the_code():
    current = (ROOT / "layers/loyalty/loyalty/openapi.json").read_text()
    assert current == openapi_gen.render(), "run: python -m loyalty_local.openapi_gen"


def _pins(lock: str) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^ \\;]+)", (ROOT / lock).read_text(), flags=re.M)
    return {name.lower(): version for name, version in pins}


def test_the_layers_requirements_match_the_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {re.split(r"[\[<>=]", d)[0] for d in project["dependencies"]} - {"boto3"}  # boto3 ships in Lambda

    def names(path: str) -> set[str]:
        lines = (ROOT / path).read_text().splitlines()
        return {re.split(r"[\[<>=]", line)[0] for line in lines if line.strip() and not line.startswith("#")}

    # the deps layer for every function; the docs layer (Swagger UI's files) for ProgramFunction; phonenumbers in
    # MembersFunction's own package (its search)
    assert names("layers/docs/requirements.in") == {"swagger-ui-py"}
    assert names("functions/members/requirements.in") == {"phonenumberslite"}
    own = names("functions/members/requirements.in")
    assert runtime == names("layers/deps/requirements.in") | names("layers/docs/requirements.in") | own


def test_the_layer_the_run_and_the_test_environments_pin_the_same_versions():
    dev, run, layer = (
        _pins("requirements/dev.txt"),
        _pins("requirements/run.txt"),
        _pins("layers/deps/requirements.txt"),
    )
    assert {"pydantic", "pydantic-core", "aws-lambda-powertools", "pyyaml"} <= set(layer)
    assert not {"boto3", "botocore", "s3transfer"} & set(layer), "the Lambda runtime provides boto3"
    for name, version in layer.items():
        assert dev[name] == version == run[name], name
    for name, version in run.items():
        assert dev[name] == version, name
    assert "--hash=sha256:" in (ROOT / "layers/deps/requirements.txt").read_text()
    docs = _pins("layers/docs/requirements.txt")
    assert set(docs) == {"swagger-ui-py"} and docs["swagger-ui-py"] == run["swagger-ui-py"]
    assert "--hash=sha256:" in (ROOT / "layers/docs/requirements.txt").read_text()
    members = _pins("functions/members/requirements.txt")
    assert set(members) == {"phonenumberslite"} and members["phonenumberslite"] == run["phonenumberslite"]
    assert "--hash=sha256:" in (ROOT / "functions/members/requirements.txt").read_text()


def test_every_scheduled_job_is_in_the_registry_with_the_templates_schedule():
    """loyalty.jobs.registry is the one list of jobs the replay, the simulator and the bench read: a job
    scheduled in template.yaml that it lacks, or one it lists that nothing schedules, fails here."""
    import json

    from loyalty.jobs import registry

    from loyalty_local.template import Template

    scheduled = {}
    for fn in Template().functions().values():
        for schedule in fn.schedules:
            job = json.loads(schedule.get("Input") or "{}").get("job")
            if job:
                scheduled[job] = schedule["ScheduleExpression"]
    assert scheduled == {job.name: job.cron for job in registry.ALL}
    assert registry.MONTHLY_NAMES == ("expiry", "tier-evaluation")  # the 1st's order: expire, then evaluate
