"""Answer models of the public contract, by capability: what the API answers (the OpenAPI document types
every answer from them). `common` has the base model and the error shape."""
