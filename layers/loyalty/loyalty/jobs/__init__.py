"""The monthly jobs: their machinery (`runner`: a run fans out into chunk messages, workers walk pages) and the
one list of them (`registry`) that the local stack, the what-if replay, the simulator and the bench read.
"""
