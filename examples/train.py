"""A training script that tracks itself in Maestro, with nothing but Python's standard library.

    MAESTRO_URL=http://127.0.0.1:8000 MAESTRO_TOKEN=<API token with WRITE> \
        python examples/train.py <experiment id>

Starts a run with its hyper-parameters, logs loss and accuracy each epoch (one request per
epoch, every metric in it), uploads the model file straight to the object store through a
presigned URL, and finishes the run. The GraphQL calls are plain HTTP POSTs.
"""

import hashlib
import json
import math
import os
import random
import sys
import urllib.request

URL = os.environ.get("MAESTRO_URL", "http://127.0.0.1:8000") + "/graphql"
TOKEN = os.environ["MAESTRO_TOKEN"]


def gql(query, **variables):
    """One GraphQL operation; raises with the server's message and code on an error."""
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(URL, data=body, headers={
        "Content-Type": "application/json",
        "Authorization": f"Bearer {TOKEN}",
    })
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    if answer.get("errors"):
        error = answer["errors"][0]
        raise RuntimeError(f"{error['extensions'].get('code')}: {error['message']}")
    return answer["data"]


def main(experiment_id):
    params = {"learning_rate": 0.01, "batch_size": 64, "epochs": 10}
    run = gql(
        """mutation($i: CreateRunInput!) { createRun(input: $i) { id name } }""",
        i={
            "experimentId": experiment_id,
            "params": [{"key": k, "value": str(v)} for k, v in params.items()],
            "tags": [{"key": "script", "value": "examples/train.py"}],
        },
    )["createRun"]
    print(f"run {run['name']} ({run['id']})")

    for epoch in range(params["epochs"]):
        loss = math.exp(-0.3 * epoch) + random.uniform(0, 0.05)
        accuracy = 1 - loss / 2
        gql(
            """mutation($r: ID!, $m: [MetricInput!]!) { logMetrics(runId: $r, metrics: $m) }""",
            r=run["id"],
            m=[
                {"key": "loss", "value": loss, "step": epoch},
                {"key": "accuracy", "value": accuracy, "step": epoch},
            ],
        )
        print(f"epoch {epoch}: loss {loss:.3f} accuracy {accuracy:.3f}")

    # The "model": the bytes go to the store directly, never through the API.
    model = json.dumps({"weights": [random.random() for _ in range(1000)]}).encode()
    upload = gql(
        """mutation($i: CreateArtifactUploadInput!) {
             createArtifactUpload(input: $i) { artifact { id } uploadUrl uploadHeaders { name value } }
           }""",
        i={
            "runId": run["id"],
            "path": "model/weights.json",
            "sizeBytes": len(model),
            "contentType": "application/json",
            "sha256": hashlib.sha256(model).hexdigest(),
        },
    )["createArtifactUpload"]
    put = urllib.request.Request(upload["uploadUrl"], data=model, method="PUT")
    for header in upload["uploadHeaders"]:
        put.add_header(header["name"], header["value"])
    urllib.request.urlopen(put).close()
    artifact = gql(
        """mutation($id: ID!) { completeArtifactUpload(id: $id) { path status sizeBytes } }""",
        id=upload["artifact"]["id"],
    )["completeArtifactUpload"]
    print(f"artifact {artifact['path']}: {artifact['status']}, {artifact['sizeBytes']} bytes")

    gql("""mutation($r: ID!) { updateRun(id: $r, input: {status: FINISHED}) { status } }""", r=run["id"])
    print("finished")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
