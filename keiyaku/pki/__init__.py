"""keiyaku's default PKI: a root CA, the service signing certificate, an RFC 3161 TSA, CRL, OCSP."""
