"""The foreign API's adapter hook: what its TOML file cannot say.

``before`` runs on every request before it is sent: the foreign API wants channels in
capitals ("CENTRAL") and every body signed with the court's key (``X-Signature``: the
SHA-256 of the exact body bytes and the key), so the hook serialises the body itself and
hands over the text (a body that is text is sent as it is, as JSON).
"""

import hashlib
import json


def before(logical, request, variables):
    body = request["body"]
    if logical == "send_query":
        body["route"] = variables["channel"].upper()
    if request["method"] == "POST":
        raw = json.dumps(body).encode()
        request["headers"]["X-Signature"] = hashlib.sha256(
            raw + variables["token"].encode()
        ).hexdigest()
        request["body"] = raw.decode()
    return request
