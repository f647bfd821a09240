"""A client generated from /v1/openapi.json works against the server.

Generates a Python client with openapi-python-client from the running
server's document, then uses its typed models and functions: add entries
with scores, suggest in key and score order, read a key and its scores, push
and pop, set and increment a counter, and read a typed error. Fails if the generator cannot type a body (every answer would
parse to None) or if any call answers differently from its model.

    python3 tests/client/generated_client_test.py --url http://127.0.0.1:7700
"""

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path


def generate(url: str, into: Path) -> None:
    doc = into / "openapi.json"
    doc.write_bytes(urllib.request.urlopen(f"{url}/v1/openapi.json").read())
    subprocess.run(
        ["openapi-python-client", "generate", "--path", str(doc), "--output-path", str(into / "client")],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(into / "client"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(args.url, Path(tmp))
        client_mod = importlib.import_module("typeahead_client")
        from typeahead_client.api.caches import cache_incr, cache_put
        from typeahead_client.api.stacks import stack_pop, stack_push
        from typeahead_client.api.tries import entries_add, key_get, suggest, trie_get
        from typeahead_client.models import (
            Added,
            CacheSetBody,
            CacheValue,
            EntriesBody,
            Entry,
            Error,
            IncrBody,
            KeyValues,
            Popped,
            PushBody,
            StackLen,
            SuggestAnswer,
            SuggestDedupe,
            SuggestOrder,
            TrieInfo,
        )

        client = client_mod.Client(base_url=args.url)
        body = EntriesBody(
            entries=[
                Entry(key="mara", value={"id": 1}),
                Entry(key="mark", value={"id": 2}, score=2.5),
                Entry(key="mary", value=3, incr=4),
                Entry(key="mary", value=3, incr=0.5),
            ]
        )
        added = entries_add.sync(trie="gen", client=client, body=body)
        assert isinstance(added, Added), added
        counts = (added.added, added.updated, added.unchanged, added.existing)
        assert counts == (3, 1, 0, 1), added

        answer = suggest.sync(trie="gen", client=client, q="mar", limit=2)
        assert isinstance(answer, SuggestAnswer), answer
        got = [(e.key, e.value, e.score) for e in answer.entries]
        assert got == [("mara", {"id": 1}, 0), ("mark", {"id": 2}, 2.5)], answer

        ranked = suggest.sync(
            trie="gen", client=client, q="mar", order=SuggestOrder.SCORE, dedupe=SuggestDedupe.VALUE
        )
        assert isinstance(ranked, SuggestAnswer), ranked
        assert [(e.key, e.score) for e in ranked.entries] == [("mary", 4.5), ("mark", 2.5), ("mara", 0)], ranked

        values = key_get.sync(trie="gen", key="mary", client=client)
        assert isinstance(values, KeyValues) and (values.values, values.scores) == ([3], [4.5]), values

        refused = entries_add.sync(
            trie="gen", client=client, body=EntriesBody(entries=[Entry(key="mary", value=3, incr=1.7e308)] * 2)
        )
        assert isinstance(refused, Error) and refused.error.code == "invalid_score", refused

        info = trie_get.sync(trie="gen", client=client)
        assert isinstance(info, TrieInfo) and (info.keys, info.entries) == (3, 3), info

        pushed = stack_push.sync(stack="gen", client=client, body=PushBody(value="job"))
        assert isinstance(pushed, StackLen) and pushed.len_ == 1, pushed
        popped = stack_pop.sync(stack="gen", client=client)
        assert isinstance(popped, Popped) and (popped.value, popped.len_) == ("job", 0), popped

        put = cache_put.sync(cache="gen", key="hits", client=client, body=CacheSetBody(value=40))
        assert isinstance(put, CacheValue) and put.value == 40, put
        incr = cache_incr.sync(cache="gen", key="hits", client=client, body=IncrBody(by=2))
        assert isinstance(incr, CacheValue) and incr.value == 42, incr

        missing = key_get.sync(trie="gen", key="nobody", client=client)
        assert isinstance(missing, Error) and missing.error.code == "not_found", missing
        bad = suggest.sync(trie="gen", client=client, q="a", limit=5000)
        assert isinstance(bad, Error) and bad.error.code == "invalid_limit", bad
    print(json.dumps({"generated_client": "ok"}))


if __name__ == "__main__":
    main()
