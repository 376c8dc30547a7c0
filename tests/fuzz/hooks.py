"""Schemathesis hooks for make test's fuzzing of the OpenAPI documents (tests/fuzz/run.sh).

Each hook says what a JSON Schema cannot, or works around a fault outside the project; none
drops a failure or a check.
"""

import schemathesis
from schemathesis import GenerationMode
from hypothesis.internal import lambda_sources

# CPython 3.11 (3.11.7 here) can raise "SystemError: AST constructor recursion depth mismatch"
# from ast.parse when it is called deep in the stack; Hypothesis calls it only to describe a
# filter's lambda in a strategy's repr, and Schemathesis reports the SystemError as an error of
# the operation being tested. The description is cosmetic: fall back to a placeholder.
_describe_lambda = lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe_lambda(f)
    except SystemError:
        return "lambda: <source not parsed>"


lambda_sources.lambda_description = _lambda_description


@schemathesis.hook("filter_case")
def unique_skus(context, case):
    """A positive createOrder case has unique skus, as the items' description says.

    JSON Schema has no keyword for "unique by one property" (uniqueItems compares whole items), so
    the document can state the rule only in words; the gateway rejects duplicates with 400, which
    the unit tests assert. Negative cases are left as they are.
    """
    if context.operation is None or context.operation.label != "POST /v1/orders":
        return True
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return True
    body = case.body
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return True
    skus = [item.get("sku") for item in body["items"] if isinstance(item, dict)]
    return len(skus) == len(set(map(repr, skus)))
