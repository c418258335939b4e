"""The replay engine's DynamoDB in memory (`MemoryDynamo`): the template's tables in plain dictionaries, behind
a client of boto3's shape, so that the what-if replay and the simulator pay for the product's work and not for
an emulator's (`loyalty_local.engine`; `loyalty_local.memtable.tables` says what it models)."""

from loyalty_local.memtable.tables import MemoryDynamo

__all__ = ["MemoryDynamo"]
