"""Runs the schemathesis CLI (arguments as given) against the server.

Before it does, it parses the source of schemathesis' coverage module once,
at a shallow stack, into Hypothesis' lambda-source cache. Under CPython
3.11.0-3.11.7, ast.parse of that large file deep inside a test run fails
with "AST constructor recursion depth mismatch" (a CPython bug fixed in
3.11.8), which schemathesis reports as an error of whichever operation hit
it first; parsed up front, the cache answers instead.
"""

import ast
import inspect
import sys

from hypothesis.internal import lambda_sources
import schemathesis.specs.openapi.coverage._schema as coverage

lines = tuple(inspect.findsource(coverage)[0])
parsed = {lines: lambda_sources.extract_all_lambdas(ast.parse("".join(lines)))}


class Prefilled(type(lambda_sources.AST_LAMBDAS_CACHE)):
    """Hypothesis' cache is per thread; this one answers every thread."""

    def __getitem__(self, key):
        if key in parsed:
            return parsed[key]
        return super().__getitem__(key)


lambda_sources.AST_LAMBDAS_CACHE = Prefilled(max_size=100)

from schemathesis.cli import schemathesis as cli  # noqa: E402

sys.exit(cli(sys.argv[1:]))
