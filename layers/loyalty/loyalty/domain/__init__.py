"""The domain model: the member and its ledger entries (`model`), what each status allows (`status`), the typed
writes that travel in a transaction (`writes`), every key (`keys`), the posting window (`posting`) and the
published domain events (`events`). Pure: no AWS.
"""
