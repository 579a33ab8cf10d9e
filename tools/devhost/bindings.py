"""The ``durableClient`` binding payload, shaped like the extension's ``BindingHelper`` output.

``rpcBaseUrl`` is the devhost's own management API on the main port
(``http://127.0.0.1:<port>/durabletask/``, ending in ``/`` as the SDK requires); the public
``managementUrls`` use ``/runtime/webhooks/durabletask`` like the real host. The devhost has no
system key, so no ``code=`` parameter is added.
"""

from __future__ import annotations

import json

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"


def client_binding(base_url: str, hub: str, connection: str = "Storage") -> dict[str, object]:
    """Binding payload for a host reachable at ``base_url`` (``scheme://host:port``)."""
    webhook = f"{base_url}{WEBHOOK_PATH}"
    common = f"taskHub={hub}&connection={connection}"
    instance = f"{webhook}/instances/INSTANCEID"
    return {
        "taskHubName": hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]?{common}",
            "createAndWaitOnNewInstancePostUri": (
                f"{webhook}/orchestrators/{{functionName}}[/{{instanceId}}]"
                f"?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{common}"
            ),
        },
        "managementUrls": {
            "id": "INSTANCEID",
            "statusQueryGetUri": f"{instance}?{common}",
            "sendEventPostUri": f"{instance}/raiseEvent/{{eventName}}?{common}",
            "terminatePostUri": f"{instance}/terminate?reason={{text}}&{common}",
            "rewindPostUri": f"{instance}/rewind?reason={{text}}&{common}",
            "purgeHistoryDeleteUri": f"{instance}?{common}",
            "restartPostUri": f"{instance}/restart?{common}",
            "suspendPostUri": f"{instance}/suspend?reason={{text}}&{common}",
            "resumePostUri": f"{instance}/resume?reason={{text}}&{common}",
        },
        "baseUrl": webhook,
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": f"{base_url}{RPC_PATH}",
    }


def client_binding_json(base_url: str, hub: str) -> str:
    """The binding payload as the JSON string the SDK's middleware expects."""
    return json.dumps(client_binding(base_url, hub))
