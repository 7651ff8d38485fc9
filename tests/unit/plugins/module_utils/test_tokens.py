"""tokens.py: format vectors, generator, Secret encoding, detached JWS, token list, join command."""
from __future__ import annotations

import base64
import collections
import datetime as dt
import json

import pytest
from joserfc import jws as jose_jws
from joserfc.errors import BadSignatureError
from joserfc.jwk import OctKey

from ansible_collections.kubeboot.cluster.plugins.module_utils import constants as C
from ansible_collections.kubeboot.cluster.plugins.module_utils import tokens
from ansible_collections.kubeboot.cluster.plugins.module_utils.errors import InvalidValue

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)

# --- test-vectors.md §1 ------------------------------------------------------------
JWS_ID = "joshua"
JWS_SECRET = "my voice is my passcode"
JWS_CONTENT = "Hello from the other side. I must have called a thousand times."
JWS_NORMAL = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..VShe2taLd-YTrmWuRkcL_8QTNDHYxQIEBsAYYiIj1_8"
JWS_EMPTY_CONTENT = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..7Ui1ALizW4jXphVUB7xUqC9vLYLL9RZeOFfVLoB7Tgk"
JWS_EMPTY_SECRET = "eyJhbGciOiJIUzI1NiIsImtpZCI6Impvc2h1YSJ9..UfkqvDGiIFxrMnFseDj9LYJOLNrvjW8aHhF71mvvAs8"


@pytest.mark.parametrize("content,secret,expected", [
    (JWS_CONTENT, JWS_SECRET, JWS_NORMAL),
    ("", JWS_SECRET, JWS_EMPTY_CONTENT),
    (JWS_CONTENT, "", JWS_EMPTY_SECRET),
], ids=["normal", "empty-content", "empty-secret"])
def test_jws_vectors(content, secret, expected):
    assert tokens.detached_jws(content, JWS_ID, secret) == expected
    assert tokens.verify_detached_jws(content, expected, JWS_ID, secret)


def test_jws_vector_negative():
    assert not tokens.verify_detached_jws(JWS_CONTENT, JWS_NORMAL + "foo", JWS_ID, JWS_SECRET)


def _joserfc_verify(detached: str, content: str, secret: str):
    header, empty, signature = detached.split(".")
    assert empty == ""
    payload = base64.urlsafe_b64encode(content.encode()).rstrip(b"=").decode()
    compact = f"{header}.{payload}.{signature}"
    key = OctKey.import_key(secret.encode().ljust(32, b"\0"))
    return jose_jws.deserialize_compact(compact, key, algorithms=["HS256"])


def test_jws_independent_joserfc():
    token_id, secret = "abcdef", "0123456789abcdef"
    content = "apiVersion: v1\nclusters: []\nkind: Config\n"
    detached = tokens.detached_jws(content, token_id, secret)
    obj = _joserfc_verify(detached, content, secret)
    assert obj.payload == content.encode()
    assert obj.protected == {"alg": "HS256", "kid": token_id}
    with pytest.raises(BadSignatureError):
        _joserfc_verify(detached, content, "0123456789abcdeX")
    with pytest.raises(BadSignatureError):
        _joserfc_verify(detached, content + " ", secret)


def test_jws_header_is_compact_json():
    detached = tokens.detached_jws("x", "abcdef", "0123456789abcdef")
    header = detached.split(".")[0]
    decoded = base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))
    assert decoded == json.dumps({"alg": "HS256", "kid": "abcdef"}, separators=(",", ":")).encode()


# --- test-vectors.md §3 ------------------------------------------------------------
VALID_TOKENS = ["abcdef.1234567890123456", "123456.aabbccddeeffgghh", "abcdef.abcdef0123456789",
                "123456.1234560123456789"]
INVALID_TOKENS = ["", ".", "1234567890123456789012", "12345.1234567890123456", ".1234567890123456",
                  "123456.", "123456:1234567890.123456", "abcdef:1234567890123456",
                  "Abcdef.1234567890123456", "123456.AABBCCDDEEFFGGHH", "123456.AABBCCD-EEFFGGHH",
                  "abc*ef.1234567890123456", "ABCDEF.abcdef0123456789",
                  "abcdef.1234567890123456\n"]
VALID_GROUPS = ["system:bootstrappers:foo", "system:bootstrappers:foo:bar:baz",
                "system:bootstrappers:foo-bar-42"]
INVALID_GROUPS = ["system:bootstrappers:Foo", "foo", "system:bootstrappers:", "system:bootstrappers: ",
                  "system:bootstrappers:*", "system:bootstrappers:foo:", "system:bootstrappers:foo-",
                  "system:bootstrappers:" + "x" * 300,
                  'system:bootstrappers:<script> alert("scary?!") </script>']


@pytest.mark.parametrize("token", VALID_TOKENS)
def test_valid_tokens(token):
    assert tokens.is_valid_token(token)
    token_id, secret = tokens.split_token(token)
    assert f"{token_id}.{secret}" == token


@pytest.mark.parametrize("token", INVALID_TOKENS)
def test_invalid_tokens(token):
    assert not tokens.is_valid_token(token)
    with pytest.raises(InvalidValue) as info:
        tokens.split_token(token)
    if len(token) > 6:
        assert token.strip() not in str(info.value)  # never echo a secret


@pytest.mark.parametrize("token_id,ok", [("abcdef", True), ("123456", True), ("", False),
                                         ("1234567890123456789012", False), ("12345", False),
                                         ("Abcdef", False), ("ABCDEF", False), ("abcdef.", False)])
def test_token_ids(token_id, ok):
    assert tokens.is_valid_token_id(token_id) is ok


@pytest.mark.parametrize("group", VALID_GROUPS)
def test_valid_groups(group):
    assert tokens.is_valid_group(group)
    assert tokens.validate_groups([group]) == [group]


@pytest.mark.parametrize("group", INVALID_GROUPS)
def test_invalid_groups(group):
    assert not tokens.is_valid_group(group)
    with pytest.raises(InvalidValue):
        tokens.validate_groups([group])


def test_usages():
    assert tokens.validate_usages(["signing", "authentication"]) == ["signing", "authentication"]
    with pytest.raises(InvalidValue):
        tokens.validate_usages(["signing", "foo"])


@pytest.mark.parametrize("token_id,name", [("abcdef", "bootstrap-token-abcdef"),
                                           ("foo", "bootstrap-token-foo"), ("", "bootstrap-token-")])
def test_secret_names(token_id, name):
    assert tokens.secret_name(token_id) == name


# --- generator --------------------------------------------------------------------------
def test_generate_token_format():
    for _ in range(200):
        token = tokens.generate_token()
        assert tokens.is_valid_token(token)
        assert len(token) == 23
        assert set(token.replace(".", "")) <= set(C.TOKEN_ALPHABET)


def test_generate_token_distribution():
    counts = collections.Counter()
    n = 3000
    for _ in range(n):
        counts.update(tokens.generate_token().replace(".", ""))
    total = sum(counts.values())
    assert set(counts) == set(C.TOKEN_ALPHABET)
    expected = total / 36
    # every symbol within 20% of uniform (22 chars * 3000 = 66000 draws, ~1833 each)
    assert all(abs(c - expected) < expected * 0.2 for c in counts.values()), counts
    assert len({tokens.generate_token() for _ in range(500)}) == 500


def test_generator_rejects_high_bytes(monkeypatch):
    """Bytes >= 252 are dropped, the rest map byte % 36."""
    stream = iter([bytes([252, 253, 254, 255, 0, 35, 36, 251] + [1] * 24)])
    monkeypatch.setattr(tokens._secrets, "token_bytes", lambda n: next(stream))
    assert tokens._random_string(4) == "0z0z"


def test_certificate_key():
    key = tokens.generate_certificate_key()
    assert len(key) == 64 and int(key, 16) >= 0 and key == key.lower()


# --- Secret --------------------------------------------------------------------------------
def _decoded(secret):
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_token_secret_defaults():
    secret = tokens.token_secret("abcdef.0123456789abcdef", now=NOW)
    assert secret["metadata"] == {"name": "bootstrap-token-abcdef", "namespace": "kube-system"}
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    assert "stringData" not in secret
    assert _decoded(secret) == {
        "token-id": "abcdef", "token-secret": "0123456789abcdef",
        "expiration": "2025-03-02T12:00:00Z",
        "usage-bootstrap-signing": "true", "usage-bootstrap-authentication": "true",
        "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token",
    }


def test_token_secret_never_expires_no_usages():
    secret = tokens.token_secret("abcdef.0123456789abcdef", ttl=0, usages=[], groups=[],
                                 description="hello", now=NOW)
    assert _decoded(secret) == {"token-id": "abcdef", "token-secret": "0123456789abcdef",
                                "description": "hello"}


def test_token_secret_expires_wins_and_is_utc():
    secret = tokens.token_secret("abcdef.0123456789abcdef", ttl="1h", expires="2030-01-01T02:00:00+02:00",
                                 now=NOW)
    assert _decoded(secret)["expiration"] == "2030-01-01T00:00:00Z"


def test_parse_token_secret_roundtrip():
    secret = tokens.token_secret("abcdef.0123456789abcdef", ttl="2h", usages=["signing"],
                                 groups=["system:bootstrappers:foo", "system:bootstrappers:bar"],
                                 description="d", now=NOW)
    parsed = tokens.parse_token_secret(secret)
    assert parsed == {"id": "abcdef", "secret": "0123456789abcdef", "token": "abcdef.0123456789abcdef",
                      "expires": "2025-03-01T14:00:00Z", "usages": ["signing"],
                      "groups": ["system:bootstrappers:foo", "system:bootstrappers:bar"], "description": "d"}
    assert not tokens.is_expired(parsed, NOW)
    assert tokens.is_expired(parsed, NOW + dt.timedelta(hours=3))


def test_parse_token_secret_stringdata_and_errors():
    ok = {"metadata": {"name": "bootstrap-token-abcdef"}, "stringData": {
        "token-id": "abcdef", "token-secret": "0123456789abcdef"}}
    assert tokens.parse_token_secret(ok)["expires"] is None
    bad_name = {"metadata": {"name": "bootstrap-token-zzzzzz"}, "stringData": ok["stringData"]}
    with pytest.raises(ValueError):
        tokens.parse_token_secret(bad_name)
    bad_secret = {"metadata": {"name": "bootstrap-token-abcdef"},
                  "stringData": {"token-id": "abcdef", "token-secret": "short"}}
    with pytest.raises(ValueError):
        tokens.parse_token_secret(bad_secret)


# --- token list ----------------------------------------------------------------------------
def test_token_list_table_exact():
    s1 = tokens.token_secret("abcdef.0123456789abcdef", now=NOW)
    s2 = tokens.token_secret("ghijkl.0123456789abcdef", ttl=0, usages=[], groups=[], now=NOW)
    s3 = tokens.token_secret("mnopqr.0123456789abcdef", ttl="30m", usages=["signing"],
                             description="short one", now=NOW - dt.timedelta(hours=1))
    table = tokens.token_list_table([s1, s2, s3], now=NOW)
    # header + first row share one tabwriter; each later row has its own (kubeadm cmd/token.go)
    d_pad = " " * 50
    expected = (
        "TOKEN                     TTL         EXPIRES                USAGES                   "
        "DESCRIPTION                                                EXTRA GROUPS\n"
        "abcdef.0123456789abcdef   1d          2025-03-02T12:00:00Z   authentication,signing   "
        "<none>" + d_pad + "   system:bootstrappers:kubeadm:default-node-token\n"
        "ghijkl.0123456789abcdef   <forever>   <never>   <none>                   "
        "<none>" + d_pad + "   <none>\n"
        "mnopqr.0123456789abcdef   <invalid>   2025-03-01T11:30:00Z   signing                  "
        "short one" + " " * 47 + "   system:bootstrappers:kubeadm:default-node-token\n")
    assert table == expected


def test_token_list_ttl_units():
    def ttl(seconds):
        secret = tokens.token_secret("abcdef.0123456789abcdef", expires=NOW + dt.timedelta(seconds=seconds))
        return tokens.token_list_rows([secret], now=NOW)[0]["ttl"]
    assert ttl(59) == "59s"
    assert ttl(3599) == "59m"
    assert ttl(23 * 3600 + 59) == "23h"
    assert ttl(400 * 86400) == "1y"
    assert ttl(-1) == "0s"
    assert ttl(-2) == "<invalid>"


def test_token_list_skips_invalid_and_other_types():
    good = tokens.token_secret("abcdef.0123456789abcdef", now=NOW)
    other = {"type": "Opaque", "metadata": {"name": "x"}, "data": {}}
    broken = {"type": C.BOOTSTRAP_TOKEN_SECRET_TYPE, "metadata": {"name": "bootstrap-token-abc"}, "data": {}}
    rows = tokens.token_list_rows([good, other, broken], now=NOW)
    assert [r["id"] for r in rows] == ["abcdef"]
    assert tokens.token_list_table([], now=NOW) == ""


# --- join command ---------------------------------------------------------------------------
PIN = "sha256:" + "ab" * 32


def test_join_command_worker():
    assert tokens.join_command("https://10.0.0.1:6443", "abcdef.0123456789abcdef", [PIN]) == (
        f"kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash {PIN} ")


def test_join_command_control_plane_key():
    key = "f" * 64
    assert tokens.join_command("https://[fd00::1]:6443", "abcdef.0123456789abcdef", [PIN, PIN],
                               certificate_key=key) == (
        f"kubeadm join [fd00::1]:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash {PIN} "
        f"--discovery-token-ca-cert-hash {PIN} --control-plane --certificate-key {key}")


def test_join_command_multiline_matches_single_line():
    key = "0" * 64
    multi = tokens.join_command_multiline("https://lb:6443", "abcdef.0123456789abcdef", [PIN],
                                          control_plane=True, certificate_key=key)
    assert multi.startswith("kubeadm join lb:6443 --token abcdef.0123456789abcdef \\\n\t--discovery")
    assert multi.replace("\\\n", "").replace("\t", "") == tokens.join_command(
        "https://lb:6443", "abcdef.0123456789abcdef", [PIN], control_plane=True, certificate_key=key)
