"""The programme document in SSM Parameter Store: read (the functions, at most once per cache period of
`loyalty.program.rules`) and written (the operator's `python -m loyalty program push`)."""

from __future__ import annotations

from loyalty.store.core import client


def read_parameter(name: str) -> str:
    """The parameter's current value, read now (the programme's own cache decides how often)."""
    from aws_lambda_powertools.utilities.parameters import SSMProvider

    return str(SSMProvider(boto3_client=client("ssm")).get(name, max_age=0))


def write_parameter(name: str, value: str) -> None:
    """Replace the parameter's value (Advanced tier: a programme document can pass the 4 KB of Standard)."""
    client("ssm").put_parameter(Name=name, Value=value, Type="String", Tier="Advanced", Overwrite=True)
