"""Is this webhook really from the provider? Signature checks with injected certificate stores."""
from tracker.authenticity.certificates import (
    DirectoryCertificateStore,
    HttpsCertificateStore,
    certificate_store_from_config,
)
from tracker.authenticity.sns import (
    SNS_HOST,
    CertificateStore,
    CertificateUnavailable,
    SignatureError,
    string_to_sign,
    validate_cert_url,
    validate_subscribe_url,
    verify,
)

__all__ = [
    "SNS_HOST",
    "CertificateStore",
    "CertificateUnavailable",
    "DirectoryCertificateStore",
    "HttpsCertificateStore",
    "SignatureError",
    "certificate_store_from_config",
    "string_to_sign",
    "validate_cert_url",
    "validate_subscribe_url",
    "verify",
]
