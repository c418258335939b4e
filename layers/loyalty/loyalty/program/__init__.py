"""The programme: rules as data (`rules`: the model, its loaders, the current programme), campaign windows
(`campaigns`) and what `GET /v1/program` shows (`view`).
"""
