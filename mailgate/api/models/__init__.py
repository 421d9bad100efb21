"""The HTTP API's request and response bodies, declared once as msgspec types.

One module per resource. Each type is both the validator (request bodies go through
`base.read_body`) and the source of the schemas in the served OpenAPI document
(`mailgate/api/operations.py` names the types; `mailgate/api/openapi.py` renders them).
Why msgspec: docs/decisions/0010-request-types.md.
"""
