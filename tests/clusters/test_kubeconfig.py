"""clusters/kubeconfig.py: pure parsing, no Kubernetes client, no cluster."""

import base64

import pytest
import yaml

from clusters.kubeconfig import Credentials, KubeconfigError, b64_pem, parse_kubeconfig

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def _config(*, cluster=None, user=None):
    return {
        "kind": "Config",
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": cluster or {"server": "https://k"}}],
        "users": [{"name": "u", "user": user or {"token": "t"}}],
    }


def test_parse_kubeconfig_rejects_file_references():
    config = _config(cluster={"server": "https://k", "certificate-authority": "/etc/ca.crt"})
    with pytest.raises(KubeconfigError, match="inline the data"):
        parse_kubeconfig(yaml.safe_dump(config))


def test_inline_certificates_are_decoded_and_the_context_kept():
    encoded = base64.b64encode(PEM.encode()).decode()
    config = _config(
        cluster={"server": "https://k:6443", "certificate-authority-data": encoded},
        user={"client-certificate-data": encoded, "client-key-data": encoded},
    )
    credentials = parse_kubeconfig(yaml.safe_dump(config))
    assert credentials == Credentials(
        api_url="https://k:6443", ca_data=PEM, client_cert_data=PEM, client_key_data=PEM
    )
    assert credentials.extra == {"context": "c"}


def test_bad_base64_is_a_kubeconfig_error():
    with pytest.raises(KubeconfigError, match="not valid base64"):
        b64_pem("%%% not base64 %%%")


def test_the_fingerprint_follows_the_credentials():
    one = Credentials(api_url="https://k", token="a")
    assert one.fingerprint() == Credentials(api_url="https://k", token="a").fingerprint()
    assert one.fingerprint() != Credentials(api_url="https://k", token="b").fingerprint()
