#!/usr/bin/python3
"""Writes the constructed signature cases of tests/data/signatures/<provider>/<case>/.

Each case folder holds: headers ("Name: value" lines), body (raw bytes), secret (one per line;
several lines = rotation), expected (`valid`, `invalid: <reason>` or `config: <reason>`), and
optionally at (the clock, unix seconds), url (the public URL) and options (key=value lines:
tolerance, header, algorithm, encoding, prefix, template, timestamp_header, timestamp_format,
id_header, method). Signatures are computed here with Python's hmac module, independently of
the C code. Cases whose folder name starts with "published_" are the providers' own vectors and
are written as published. Run from anywhere: python3 make_cases.py
"""
import base64
import hashlib
import hmac
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000  # the clock of most cases


def write_case(provider, name, headers, body, secrets, expected, at=None, url=None, options=None):
    d = os.path.join(HERE, provider, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(body, str):
        body = body.encode()
    with open(os.path.join(d, "headers"), "w") as f:
        f.writelines(f"{k}: {v}\n" for k, v in headers)
    with open(os.path.join(d, "body"), "wb") as f:
        f.write(body)
    with open(os.path.join(d, "secret"), "w") as f:
        f.writelines(s + "\n" for s in secrets)
    with open(os.path.join(d, "expected"), "w") as f:
        f.write(expected + "\n")
    if at is not None:
        with open(os.path.join(d, "at"), "w") as f:
            f.write(f"{at}\n")
    if url is not None:
        with open(os.path.join(d, "url"), "w") as f:
            f.write(url + "\n")
    if options:
        with open(os.path.join(d, "options"), "w") as f:
            f.writelines(f"{k}={v}\n" for k, v in options.items())


def mac(alg, key, msg):
    if isinstance(key, str):
        key = key.encode()
    if isinstance(msg, str):
        msg = msg.encode()
    return hmac.new(key, msg, alg).digest()


def b64(b):
    return base64.b64encode(b).decode()


def replace(headers, name, value):
    return [(k, value if k == name else v) for k, v in headers if value is not None or k != name]


MISMATCH = "invalid: signature mismatch"


def shopify():
    secret = "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"
    body = json.dumps({"id": 820982911946154508, "email": "jon@example.com",
                       "total_price": "199.00", "currency": "EUR"}, separators=(",", ":"))
    sig = b64(mac(hashlib.sha256, secret, body))
    h = [("X-Shopify-Topic", "orders/create"), ("X-Shopify-Hmac-Sha256", sig),
         ("X-Shopify-Shop-Domain", "example.myshopify.com"),
         ("X-Shopify-Webhook-Id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")]
    p = "shopify"
    write_case(p, "valid", h, body, [secret], "valid")
    write_case(p, "wrong_secret", h, body, ["shpss_not_the_secret"], MISMATCH)
    write_case(p, "tampered_body", h, body.replace("199.00", "1.00"), [secret], MISMATCH)
    write_case(p, "missing_header", replace(h, "X-Shopify-Hmac-Sha256", None), body, [secret],
               "invalid: no signature header X-Shopify-Hmac-Sha256")
    write_case(p, "malformed_header", replace(h, "X-Shopify-Hmac-Sha256", sig.rstrip("=")),
               body, [secret],
               "invalid: malformed signature header X-Shopify-Hmac-Sha256: not base64")
    write_case(p, "hex_instead_of_base64",
               replace(h, "X-Shopify-Hmac-Sha256", mac(hashlib.sha256, secret, body).hex()),
               body, [secret], MISMATCH)
    write_case(p, "rotation_second_secret", h, body, ["shpss_old_secret_rotated_out", secret],
               "valid")
    empty_sig = b64(mac(hashlib.sha256, secret, b""))
    write_case(p, "empty_body", replace(h, "X-Shopify-Hmac-Sha256", empty_sig), b"", [secret],
               "valid")


def stripe():
    secret = "whsec_7cbd4a1e5f2d4b3c8a9e0f1d2c3b4a59"  # used as text, prefix included
    body = json.dumps({"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event",
                       "type": "payment_intent.succeeded"}, separators=(",", ":"))

    def sig(t, s=secret, b=body):
        return mac(hashlib.sha256, s, f"{t}.{b}").hex()

    def hdr(value):
        return [("Stripe-Signature", value), ("Content-Type", "application/json")]

    p = "stripe"
    t = T0
    write_case(p, "valid", hdr(f"t={t},v1={sig(t)}"), body, [secret], "valid", at=t)
    write_case(p, "valid_with_v0", hdr(f"t={t},v1={sig(t)},v0={'0' * 64}"), body, [secret],
               "valid", at=t)
    write_case(p, "wrong_secret", hdr(f"t={t},v1={sig(t, 'whsec_other')}"), body, [secret],
               MISMATCH, at=t)
    write_case(p, "tampered_body", hdr(f"t={t},v1={sig(t)}"), body.replace("succeeded", "failed"),
               [secret], MISMATCH, at=t)
    write_case(p, "secret_not_base64_decoded",
               hdr(f"t={t},v1={mac(hashlib.sha256, base64.b64decode('7cbd4a1e5f2d4b3c8a9e0f1d2c3b4a59'), f'{t}.{body}').hex()}"),
               body, [secret], MISMATCH, at=t)
    write_case(p, "missing_header", [("Content-Type", "application/json")], body, [secret],
               "invalid: no signature header Stripe-Signature", at=t)
    write_case(p, "malformed_no_timestamp", hdr(f"v1={sig(t)}"), body, [secret],
               "invalid: malformed signature header Stripe-Signature: no t= timestamp", at=t)
    write_case(p, "malformed_timestamp", hdr(f"t=12a4,v1={sig(t)}"), body, [secret],
               "invalid: malformed signature header Stripe-Signature: t is not a unix time", at=t)
    write_case(p, "no_v1", hdr(f"t={t},v0={sig(t)}"), body, [secret],
               "invalid: no v1 signature in Stripe-Signature", at=t)
    write_case(p, "v1_not_hex", hdr(f"t={t},v1=zz{sig(t)[2:]}"), body, [secret], MISMATCH, at=t)
    write_case(p, "multi_signature_one_matches",
               hdr(f"t={t},v1={sig(t, 'whsec_old')},v1={sig(t)},v1={'ab' * 32}"), body, [secret],
               "valid", at=t)
    write_case(p, "too_many_items", hdr(",".join([f"t={t}"] + [f"v1={sig(t)}"] * 16)), body,
               [secret], "invalid: malformed signature header Stripe-Signature: more than 16 items",
               at=t)
    write_case(p, "rotation_second_secret", hdr(f"t={t},v1={sig(t)}"), body,
               ["whsec_previous_secret_1234", secret], "valid", at=t)
    write_case(p, "stale_at_boundary", hdr(f"t={t},v1={sig(t)}"), body, [secret], "valid",
               at=t + 300)
    write_case(p, "stale_past_boundary", hdr(f"t={t},v1={sig(t)}"), body, [secret],
               f"invalid: timestamp {t} is 301 s old (tolerance 300 s)", at=t + 301)
    # Stripe's SDKs accept timestamps from the future.
    write_case(p, "future_accepted", hdr(f"t={t},v1={sig(t)}"), body, [secret], "valid",
               at=t - 3600)
    write_case(p, "stale_custom_tolerance", hdr(f"t={t},v1={sig(t)}"), body, [secret],
               f"invalid: timestamp {t} is 61 s old (tolerance 60 s)", at=t + 61,
               options={"tolerance": 60})
    write_case(p, "stale_tolerance_off", hdr(f"t={t},v1={sig(t)}"), body, [secret], "valid",
               at=t + 86400 * 30, options={"tolerance": 0})
    write_case(p, "stale_and_wrong_secret", hdr(f"t={t},v1={sig(t, 'whsec_other')}"), body,
               [secret], MISMATCH, at=t + 3600)
    # The SDKs sign the parsed integer, so a zero-padded t signs the plain number.
    write_case(p, "zero_padded_timestamp", hdr(f"t=0{t},v1={sig(t)}"), body, [secret], "valid",
               at=t)


def github():
    p = "github"
    # docs.github.com "Validating webhook deliveries", testing the webhook payload validation.
    secret, body = "It's a Secret to Everybody", "Hello, World!"
    good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert good == "sha256=" + mac(hashlib.sha256, secret, body).hex()
    h = [("X-GitHub-Event", "ping"), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
         ("X-Hub-Signature-256", good)]
    write_case(p, "published_docs_example", h, body, [secret], "valid")
    write_case(p, "uppercase_hex", replace(h, "X-Hub-Signature-256", good.upper().replace("SHA256=", "sha256=")),
               body, [secret], "valid")
    write_case(p, "wrong_secret", h, body, ["It's a Secret to Nobody"], MISMATCH)
    write_case(p, "tampered_body", h, "Hello, World?", [secret], MISMATCH)
    write_case(p, "missing_header", replace(h, "X-Hub-Signature-256", None), body, [secret],
               "invalid: no signature header X-Hub-Signature-256")
    sha1 = "sha1=" + mac(hashlib.sha1, secret, body).hex()
    write_case(p, "sha1_prefix_refused", replace(h, "X-Hub-Signature-256", sha1), body, [secret],
               "invalid: malformed signature header X-Hub-Signature-256: no sha256= prefix")
    write_case(p, "not_hex", replace(h, "X-Hub-Signature-256", good[:-1] + "g"), body, [secret],
               "invalid: malformed signature header X-Hub-Signature-256: not hex")
    write_case(p, "truncated_signature", replace(h, "X-Hub-Signature-256", good[:-2]), body,
               [secret], MISMATCH)
    write_case(p, "rotation_second_secret", h, body, ["old secret", secret], "valid")


def slack():
    p = "slack"
    # docs.slack.dev "Verifying requests from Slack" worked example.
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    ts = 1531420618
    body = ("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            "channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            "command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            "commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    good = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert good == "v0=" + mac(hashlib.sha256, secret, f"v0:{ts}:{body}").hex()
    h = [("X-Slack-Request-Timestamp", str(ts)), ("X-Slack-Signature", good),
         ("Content-Type", "application/x-www-form-urlencoded")]
    write_case(p, "published_docs_example", h, body, [secret], "valid", at=ts)
    write_case(p, "wrong_secret", h, body, ["8f742231b10e8888abcd99yyyzzz85a6"], MISMATCH, at=ts)
    write_case(p, "tampered_body", h, body + "------", [secret], MISMATCH, at=ts)
    write_case(p, "missing_signature", replace(h, "X-Slack-Signature", None), body, [secret],
               "invalid: no signature header X-Slack-Signature", at=ts)
    write_case(p, "missing_timestamp", replace(h, "X-Slack-Request-Timestamp", None), body,
               [secret], "invalid: no timestamp header X-Slack-Request-Timestamp", at=ts)
    write_case(p, "malformed_timestamp", replace(h, "X-Slack-Request-Timestamp", "1531420618.5"),
               body, [secret],
               "invalid: malformed timestamp header X-Slack-Request-Timestamp: not a unix time",
               at=ts)
    write_case(p, "no_v0_prefix", replace(h, "X-Slack-Signature", good[3:]), body, [secret],
               "invalid: malformed signature header X-Slack-Signature: no v0= prefix", at=ts)
    write_case(p, "stale_at_boundary", h, body, [secret], "valid", at=ts + 300)
    write_case(p, "stale_past_boundary", h, body, [secret],
               f"invalid: timestamp {ts} is 301 s old (tolerance 300 s)", at=ts + 301)
    write_case(p, "future_at_boundary", h, body, [secret], "valid", at=ts - 300)
    write_case(p, "future_past_boundary", h, body, [secret],
               f"invalid: timestamp {ts} is 301 s in the future (tolerance 300 s)", at=ts - 301)
    # The timestamp is signed as sent: another spelling of the same time does not verify.
    write_case(p, "timestamp_respelled", replace(h, "X-Slack-Request-Timestamp", f"0{ts}"), body,
               [secret], MISMATCH, at=ts)
    ev = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge":
                     "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                     "type": "url_verification"})
    write_case(p, "url_verification_signed",
               [("X-Slack-Request-Timestamp", str(T0)),
                ("X-Slack-Signature", "v0=" + mac(hashlib.sha256, secret, f"v0:{T0}:{ev}").hex()),
                ("Content-Type", "application/json")], ev, [secret], "valid", at=T0)


def standard(p, prefix):
    # The reference libraries' test vector (standard-webhooks and svix-webhooks, "sign function
    # works"): whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, msg_p5jXN8AQM9LWM0D4loKWxJek, 1614265330.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    key = base64.b64decode(secret[6:])
    msg_id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
    good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert good == "v1," + b64(mac(hashlib.sha256, key, f"{msg_id}.{ts}.{body}"))

    def hdrs(i=msg_id, t=str(ts), s=good):
        return [(f"{prefix}-id", i), (f"{prefix}-timestamp", t), (f"{prefix}-signature", s)]

    write_case(p, "published_library_vector", hdrs(), body, [secret], "valid", at=ts)
    write_case(p, "secret_without_prefix", hdrs(), body, [secret[6:]], "valid", at=ts)
    write_case(p, "wrong_secret", hdrs(), body, ["whsec_" + b64(b"another key of 24 bytes!")],
               MISMATCH, at=ts)
    write_case(p, "tampered_body", hdrs(), '{"test": 2432232315}', [secret], MISMATCH, at=ts)
    write_case(p, "tampered_id", hdrs(i="msg_p5jXN8AQM9LWM0D4loKWxJeK"), body, [secret], MISMATCH,
               at=ts)
    # From the libraries' "multi sig payload is valid": other versions and bad v1s are skipped.
    multi = " ".join(["v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
                      "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", good,
                      "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="])
    write_case(p, "multi_signature_one_matches", hdrs(s=multi), body, [secret], "valid", at=ts)
    write_case(p, "multi_signature_none_matches",
               hdrs(s="v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v1,notbase64!"), body,
               [secret], MISMATCH, at=ts)
    write_case(p, "only_asymmetric_v1a", hdrs(s="v1a," + good[3:]), body, [secret],
               f"invalid: no v1 signature in {prefix}-signature", at=ts)
    write_case(p, "partial_signature", hdrs(s="v1,"), body, [secret], MISMATCH, at=ts)
    write_case(p, "too_many_signatures", hdrs(s=" ".join([good] * 17)), body, [secret],
               f"invalid: malformed signature header {prefix}-signature: more than 16 items", at=ts)
    write_case(p, "missing_id", hdrs()[1:], body, [secret], f"invalid: no id header {prefix}-id",
               at=ts)
    write_case(p, "missing_timestamp", [hdrs()[0], hdrs()[2]], body, [secret],
               f"invalid: no timestamp header {prefix}-timestamp", at=ts)
    write_case(p, "missing_signature", hdrs()[:2], body, [secret],
               f"invalid: no signature header {prefix}-signature", at=ts)
    write_case(p, "malformed_timestamp", hdrs(t="hello"), body, [secret],
               f"invalid: malformed timestamp header {prefix}-timestamp: not a unix time", at=ts)
    write_case(p, "stale_at_boundary", hdrs(), body, [secret], "valid", at=ts + 300)
    write_case(p, "stale_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {ts} is 301 s old (tolerance 300 s)", at=ts + 301)
    write_case(p, "future_at_boundary", hdrs(), body, [secret], "valid", at=ts - 300)
    write_case(p, "future_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {ts} is 301 s in the future (tolerance 300 s)", at=ts - 301)
    write_case(p, "rotation_second_secret", hdrs(), body,
               ["whsec_" + b64(b"the key before rotation"), secret], "valid", at=ts)
    write_case(p, "secret_bad_base64", hdrs(), body, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"],
               "config: secret 1 is not a whsec_ secret: expected base64 (with padding) of at "
               "most 256 bytes after the whsec_ prefix", at=ts)
    write_case(p, "secret_bad_base64_chars", hdrs(), body, ["whsec_MfKQ9r8GKYqrTwjU*D8ILPZIo2LaLaSw"],
               "config: secret 1 is not a whsec_ secret: expected base64 (with padding) of at "
               "most 256 bytes after the whsec_ prefix", at=ts)
    write_case(p, "secret_empty_after_prefix", hdrs(), body, ["whsec_"],
               "config: secret 1 is not a whsec_ secret: expected base64 (with padding) of at "
               "most 256 bytes after the whsec_ prefix", at=ts)


def svix_extra():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, ts, body = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'
    good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    write_case("svix", "webhook_headers_accepted",
               [("webhook-id", msg_id), ("webhook-timestamp", str(ts)),
                ("webhook-signature", good)], body, [secret], "valid", at=ts)


def zendesk():
    p = "zendesk"
    secret = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # the docs' example, used as text
    ts = "2023-11-14T22:13:20Z"  # = T0
    body = json.dumps({"type": "zen:event-type:ticket.created", "id": "cbe4028c-7239-495d-b020",
                       "detail": {"id": "5158"}}, separators=(",", ":"))
    good = b64(mac(hashlib.sha256, secret, ts + body))

    def hdrs(s=good, t=ts):
        return [("X-Zendesk-Webhook-Signature", s), ("X-Zendesk-Webhook-Signature-Timestamp", t),
                ("X-Zendesk-Webhook-Id", "01F1KRFQ6BG29CNWFR60NK5FNY"),
                ("Content-Type", "application/json")]

    write_case(p, "valid", hdrs(), body, [secret], "valid", at=T0)
    write_case(p, "secret_used_as_text", hdrs(b64(mac(hashlib.sha256, base64.b64decode(secret), ts + body))),
               body, [secret], MISMATCH, at=T0)
    write_case(p, "wrong_secret", hdrs(), body, ["c29tZSBvdGhlciBzZWNyZXQ="], MISMATCH, at=T0)
    write_case(p, "tampered_body", hdrs(), body.replace("5158", "5159"), [secret], MISMATCH, at=T0)
    write_case(p, "missing_signature", hdrs()[1:], body, [secret],
               "invalid: no signature header X-Zendesk-Webhook-Signature", at=T0)
    write_case(p, "missing_timestamp", hdrs()[:1] + hdrs()[2:], body, [secret],
               "invalid: no timestamp header X-Zendesk-Webhook-Signature-Timestamp", at=T0)
    write_case(p, "malformed_timestamp", hdrs(t=str(T0)), body, [secret],
               "invalid: malformed timestamp header X-Zendesk-Webhook-Signature-Timestamp: not an "
               "ISO 8601 date-time", at=T0)
    write_case(p, "malformed_signature", hdrs(s=good[:-2]), body, [secret],
               "invalid: malformed signature header X-Zendesk-Webhook-Signature: not base64", at=T0)
    write_case(p, "stale_at_boundary", hdrs(), body, [secret], "valid", at=T0 + 300)
    write_case(p, "stale_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {T0} is 301 s old (tolerance 300 s)", at=T0 + 301)
    write_case(p, "future_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {T0} is 301 s in the future (tolerance 300 s)", at=T0 - 301)
    off = "2023-11-14T23:13:20+01:00"  # the same instant with an offset, signed as sent
    write_case(p, "timestamp_with_offset",
               hdrs(b64(mac(hashlib.sha256, secret, off + body)), off), body, [secret], "valid",
               at=T0)
    write_case(p, "rotation_second_secret", hdrs(), body, ["b2xkIHNlY3JldA==", secret], "valid",
               at=T0)


def twilio():
    p = "twilio"
    # twilio-python tests/unit/test_request_validator.py (auth token "12345").
    token, url = "12345", "https://mycompany.com/myapp.php?foo=1&bar=2"
    form = ("CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&"
            "Caller=%2B14158675309")
    ct = ("Content-Type", "application/x-www-form-urlencoded")

    def hdrs(sig):
        return [("X-Twilio-Signature", sig), ct]

    write_case(p, "published_form", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form, [token], "valid",
               url=url)
    write_case(p, "published_port_removed_https", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form,
               [token], "valid", url=url.replace(".com", ".com:1234"))
    write_case(p, "published_port_removed_http", hdrs("Zmvh+3yNM1Phv2jhDCwEM3q5ebU="), form,
               [token], "valid", url=url.replace(".com", ".com:1234").replace("https", "http"))
    write_case(p, "published_port_added_https", hdrs("kvajT1Ptam85bY51eRf/AJRuM3w="), form, [token],
               "valid", url=url)
    write_case(p, "published_port_added_http", hdrs("0ZXoZLH/DfblKGATFgpif+LLRf4="), form, [token],
               "valid", url=url.replace("https", "http"))
    write_case(p, "published_duplicate_params", hdrs("IK+Dwps556ElfBT0I3Rgjkr1wJU="),
               "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234", [token], "valid",
               url=url)
    jbody = '{"property": "value", "boolean": true}'
    bhash = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert bhash == hashlib.sha256(jbody.encode()).hexdigest()
    jurl = url + "&bodySHA256=" + bhash
    write_case(p, "published_json_body", [("X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
                                          ("Content-Type", "application/json")],
               jbody, [token], "valid", url=jurl)
    write_case(p, "json_body_tampered", [("X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
                                         ("Content-Type", "application/json")],
               jbody.replace("value", "other"), [token],
               "invalid: bodySHA256 does not match the body", url=jurl)
    write_case(p, "json_body_hash_malformed",
               [("X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
                ("Content-Type", "application/json")], jbody, [token],
               "invalid: malformed bodySHA256 in the URL", url=url + "&bodySHA256=%zz")
    write_case(p, "json_body_hash_short",
               [("X-Twilio-Signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
                ("Content-Type", "application/json")], jbody, [token],
               "invalid: bodySHA256 does not match the body", url=url + "&bodySHA256=0a1f")
    write_case(p, "wrong_token", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form, ["54321"], MISMATCH,
               url=url)
    write_case(p, "tampered_param", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="),
               form.replace("Digits=1234", "Digits=1235"), [token], MISMATCH, url=url)
    write_case(p, "extra_param", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form + "&Extra=1", [token],
               MISMATCH, url=url)
    write_case(p, "other_url", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form, [token], MISMATCH,
               url=url.replace("myapp", "yourapp"))
    write_case(p, "missing_header", [ct], form, [token],
               "invalid: no signature header X-Twilio-Signature", url=url)
    write_case(p, "no_url", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form, [token],
               "invalid: no usable public URL: Twilio signs the URL it called (configure it)")
    write_case(p, "malformed_form", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form + "&Bad=%zz",
               [token], "invalid: malformed form body: bad % escape", url=url)
    write_case(p, "rotation_second_token", hdrs("RSOYDt4T1cUTdK1PDd93/VVr8B8="), form,
               ["old-token", token], "valid", url=url)
    # Constructed: an SMS status callback with '+' for spaces and unicode, signed here.
    sms = {"MessageSid": "SM2c9c4f1c2b0a4f6e8d7c6b5a4f3e2d1c", "MessageStatus": "delivered",
           "Body": "Café at 5?", "From": "+14155550100", "To": "+14155550199"}
    from urllib.parse import urlencode
    sbody = urlencode(sms)
    surl = "https://hooks.example.com/webhooks/sms1"
    s = surl + "".join(k + sms[k] for k in sorted(sms))
    write_case(p, "sms_status_callback", hdrs(b64(mac(hashlib.sha1, token, s))), sbody, [token],
               "valid", url=surl)


def chatwoot():
    p = "chatwoot"
    secret = "cw_webhook_6b0e1a2f9d8c7b6a5e4d3c2b"
    body = json.dumps({"event": "conversation_created", "id": 42}, separators=(",", ":"))
    good = "sha256=" + mac(hashlib.sha256, secret, f"{T0}.{body}").hex()

    def hdrs(s=good, t=str(T0)):
        return [("X-Chatwoot-Signature", s), ("X-Chatwoot-Timestamp", t),
                ("X-Chatwoot-Delivery", "4f8c2a8e-9d3c-4b8e-a1f2-7c6b5a4d3e2f"),
                ("Content-Type", "application/json")]

    write_case(p, "valid", hdrs(), body, [secret], "valid", at=T0)
    write_case(p, "wrong_secret", hdrs(), body, ["cw_other"], MISMATCH, at=T0)
    write_case(p, "tampered_body", hdrs(), body.replace("42", "43"), [secret], MISMATCH, at=T0)
    write_case(p, "body_only_signed", hdrs("sha256=" + mac(hashlib.sha256, secret, body).hex()),
               body, [secret], MISMATCH, at=T0)
    write_case(p, "missing_signature", hdrs()[1:], body, [secret],
               "invalid: no signature header X-Chatwoot-Signature", at=T0)
    write_case(p, "missing_timestamp", hdrs()[:1] + hdrs()[2:], body, [secret],
               "invalid: no timestamp header X-Chatwoot-Timestamp", at=T0)
    write_case(p, "malformed_timestamp", hdrs(t="2023-11-14T22:13:20Z"), body, [secret],
               "invalid: malformed timestamp header X-Chatwoot-Timestamp: not a unix time", at=T0)
    write_case(p, "no_prefix", hdrs(good[7:]), body, [secret],
               "invalid: malformed signature header X-Chatwoot-Signature: no sha256= prefix", at=T0)
    write_case(p, "stale_at_boundary", hdrs(), body, [secret], "valid", at=T0 + 300)
    write_case(p, "stale_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {T0} is 301 s old (tolerance 300 s)", at=T0 + 301)
    write_case(p, "future_past_boundary", hdrs(), body, [secret],
               f"invalid: timestamp {T0} is 301 s in the future (tolerance 300 s)", at=T0 - 301)
    write_case(p, "rotation_second_secret", hdrs(), body, ["cw_old", secret], "valid", at=T0)


def generic():
    p = "generic-hmac"
    secret = "gh_5e2b7c9a1d3f4e6b8a0c2d4f6e8a0b1c"
    body = json.dumps({"type": "contact.created", "id": "c_1"}, separators=(",", ":"))
    # Klaviyo recipe: hex HMAC-SHA256 of body + Klaviyo-Timestamp (IMF-fixdate).
    kts = "Tue, 14 Nov 2023 22:13:20 GMT"  # = T0
    klaviyo = {"header": "Klaviyo-Signature", "template": "{body}{timestamp}",
               "timestamp_header": "Klaviyo-Timestamp", "timestamp_format": "http_date",
               "id_header": "Klaviyo-Webhook-Id"}
    ksig = mac(hashlib.sha256, secret, body + kts).hex()
    kh = [("Klaviyo-Signature", ksig), ("Klaviyo-Timestamp", kts),
          ("Klaviyo-Webhook-Id", "01HFZ3J5K6M7N8P9Q0R1S2T3V4")]
    write_case(p, "klaviyo_valid", kh, body, [secret], "valid", at=T0, options=klaviyo)
    write_case(p, "klaviyo_stale", kh, body, [secret],
               f"invalid: timestamp {T0} is 3600 s old (tolerance 300 s)", at=T0 + 3600,
               options=klaviyo)
    write_case(p, "klaviyo_bad_date", replace(kh, "Klaviyo-Timestamp", "14 Nov 2023 22:13:20"),
               body, [secret], MISMATCH, at=T0, options=klaviyo)
    # HubSpot v3: base64 HMAC-SHA256 of method + URI + body + timestamp (milliseconds).
    hurl = "https://hooks.example.com/webhooks/hubspot1?portal=62515"
    hts = str(T0 * 1000 + 123)
    hubspot = {"header": "X-HubSpot-Signature-v3", "encoding": "base64",
               "template": "{method}{url}{body}{timestamp}",
               "timestamp_header": "X-HubSpot-Request-Timestamp", "timestamp_format": "unix_ms"}
    hsig = b64(mac(hashlib.sha256, secret, "POST" + hurl + body + hts))
    hh = [("X-HubSpot-Signature-v3", hsig), ("X-HubSpot-Request-Timestamp", hts)]
    write_case(p, "hubspot_v3_valid", hh, body, [secret], "valid", at=T0, url=hurl,
               options=hubspot)
    write_case(p, "hubspot_v3_wrong_method", hh, body, [secret], MISMATCH, at=T0, url=hurl,
               options=dict(hubspot, method="PUT"))
    write_case(p, "hubspot_v3_future", hh, body, [secret],
               f"invalid: timestamp {T0} is 400 s in the future (tolerance 300 s)", at=T0 - 400,
               url=hurl, options=hubspot)
    write_case(p, "hubspot_v3_no_url", hh, body, [secret],
               "invalid: no value for {url} (the public URL is not configured)", at=T0,
               options=hubspot)
    # Plain body signatures in each algorithm and encoding.
    sha1 = {"header": "X-Signature", "algorithm": "sha1", "prefix": "sha1="}
    s1 = "sha1=" + mac(hashlib.sha1, secret, body).hex()
    write_case(p, "sha1_hex_prefix", [("X-Signature", s1)], body, [secret], "valid",
               options=sha1)
    write_case(p, "sha1_wrong_prefix", [("X-Signature", s1.replace("sha1=", "sha256="))], body,
               [secret], "invalid: malformed signature header X-Signature: no sha1= prefix",
               options=sha1)
    write_case(p, "sha1_not_hex", [("X-Signature", s1[:-1] + "x")], body, [secret],
               "invalid: malformed signature header X-Signature: not hex", options=sha1)
    s512 = {"header": "X-Signature", "algorithm": "sha512", "encoding": "base64"}
    write_case(p, "sha512_base64", [("X-Signature", b64(mac(hashlib.sha512, secret, body)))],
               body, [secret], "valid", options=s512)
    write_case(p, "sha512_given_sha256", [("X-Signature", b64(mac(hashlib.sha256, secret, body)))],
               body, [secret], MISMATCH, options=s512)
    write_case(p, "missing_header", [], body, [secret],
               "invalid: no signature header X-Signature", options=sha1)
    idt = {"header": "X-Sig", "template": "{id}.{timestamp}.{body}", "id_header": "X-Id",
           "timestamp_header": "X-Ts"}
    isig = mac(hashlib.sha256, secret, f"evt_9.{T0}.{body}").hex()
    ih = [("X-Sig", isig), ("X-Id", "evt_9"), ("X-Ts", str(T0))]
    write_case(p, "id_timestamp_template", ih, body, [secret], "valid", at=T0, options=idt)
    write_case(p, "id_timestamp_missing_ts", ih[:2], body, [secret],
               "invalid: no value for {timestamp} (its header is missing)", at=T0, options=idt)
    write_case(p, "id_timestamp_rotation", ih, body, ["gh_old", secret], "valid", at=T0,
               options=idt)
    write_case(p, "config_bad_algorithm", [("X-Signature", s1)], body, [secret],
               "config: generic-hmac: algorithm 'md5' is not sha1, sha256 or sha512",
               options={"header": "X-Signature", "algorithm": "md5"})
    write_case(p, "config_bad_encoding", [("X-Signature", s1)], body, [secret],
               "config: generic-hmac: encoding 'base32' is not hex or base64",
               options={"header": "X-Signature", "encoding": "base32"})
    write_case(p, "config_unknown_placeholder", [("X-Signature", s1)], body, [secret],
               "config: generic-hmac: template: unknown placeholder at '{nonce}.{body}' (use "
               "{body} {timestamp} {id} {method} {url})",
               options={"header": "X-Signature", "template": "{nonce}.{body}"})
    write_case(p, "config_timestamp_without_header", [("X-Signature", s1)], body, [secret],
               "config: generic-hmac: template uses {timestamp} but no timestamp header is set",
               options={"header": "X-Signature", "template": "{timestamp}.{body}"})
    write_case(p, "config_no_header", [("X-Signature", s1)], body, [secret],
               "config: generic-hmac: no signature header", options={"algorithm": "sha1"})


def main():
    for p in ["shopify", "stripe", "github", "slack", "standard-webhooks", "svix", "zendesk",
              "twilio", "chatwoot", "generic-hmac"]:
        shutil.rmtree(os.path.join(HERE, p), ignore_errors=True)
    shopify()
    stripe()
    github()
    slack()
    standard("standard-webhooks", "webhook")
    standard("svix", "svix")
    svix_extra()
    zendesk()
    twilio()
    chatwoot()
    generic()


if __name__ == "__main__":
    main()
