"""Watch a run's metrics live over Maestro's GraphQL subscriptions.

    pip install websockets
    MAESTRO_TOKEN=<access or API token> python examples/watch_run.py <run id> [key ...]

Speaks graphql-transport-ws at /graphql/ws (MAESTRO_URL, default http://127.0.0.1:8000)
and prints one line per point as training logs them, until the run's subscription ends.
"""

import asyncio
import json
import os
import sys

import websockets

QUERY = """
subscription($run: ID!, $keys: [String!]) {
  runMetrics(runId: $run, keys: $keys) { points { key step value timestamp } }
}
"""


async def watch(run_id: str, keys: list[str]) -> None:
    base = os.environ.get("MAESTRO_URL", "http://127.0.0.1:8000")
    url = base.replace("http", "ws", 1) + "/graphql/ws"
    token = os.environ["MAESTRO_TOKEN"]
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        variables = {"run": run_id, "keys": keys or None}
        await ws.send(json.dumps({"type": "subscribe", "id": "1", "payload": {"query": QUERY, "variables": variables}}))
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif message["type"] == "next":
                payload = message["payload"]
                if payload.get("errors"):
                    print("error:", payload["errors"][0]["message"], file=sys.stderr)
                    continue
                for p in payload["data"]["runMetrics"]["points"]:
                    print(f"{p['timestamp']}  {p['key']:<20} step {p['step']:>8}  {p['value']}")
            elif message["type"] in ("error", "complete"):
                print(message["type"], json.dumps(message.get("payload", "")), file=sys.stderr)
                return


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    asyncio.run(watch(sys.argv[1], sys.argv[2:]))
