"""Validators we did not write, run on our PDFs: poppler's ``pdfsig``, ``openssl ts -verify``
and ``qpdf --check``. Each helper raises AssertionError (with the tool's output) on failure.

Signatures and timestamp tokens are located with pikepdf (qpdf), not with pyHanko, so a
pyHanko bug cannot hide itself from these checks.
"""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pikepdf
from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509

__all__ = [
    "openssl_verify_timestamps",
    "pdfsig",
    "qpdf_check",
    "signatures_without_timestamp",
    "timestamp_signers",
]

# RFC 3161 token in a CMS signer's unsigned attributes (id-aa-signatureTimeStampToken).
_SIGNATURE_TIMESTAMP_OID = "1.2.840.113549.1.9.16.2.14"
_DOC_TIMESTAMP_SUBFILTER = "/ETSI.RFC3161"


def pdfsig(pdf: bytes, *, trust_root_pem: bytes | None = None) -> list[dict[str, Any]]:
    """Run ``pdfsig`` and return one dict per signature (document timestamps included).

    Every signature proper must be reported "Signature is Valid."; pdfsig (poppler 22.12)
    cannot validate document timestamps (RFC 3161 type), those are returned unchecked:
    ``openssl_verify_timestamps`` covers them.

    ``certificate_validation`` is reported, not asserted: poppler 22.12 reads NSS's error code
    without checking whether verification failed, so a stale error from an earlier NSS call
    (any failed OCSP fetch, or ``-no-ocsp``) shows up as "Unknown issue" on a good chain.
    Give ``trust_root_pem`` to have the root in a fresh NSS database.
    """
    with tempfile.TemporaryDirectory(prefix="pdfsig-") as tmp:
        path = Path(tmp) / "doc.pdf"
        path.write_bytes(pdf)
        command = ["pdfsig"]
        if trust_root_pem is not None:
            nssdir = Path(tmp) / "nss"
            nssdir.mkdir()
            root = Path(tmp) / "root.pem"
            root.write_bytes(_pem(trust_root_pem))
            _run(["certutil", "-N", "-d", f"sql:{nssdir}", "--empty-password"])
            _run(
                [
                    "certutil",
                    "-A",
                    "-d",
                    f"sql:{nssdir}",
                    "-n",
                    "root",
                    "-t",
                    "CT,C,C",
                    "-i",
                    str(root),
                ]
            )
            command += ["-nssdir", f"sql:{nssdir}"]
        result = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=120)
    output = result.stdout
    if result.returncode != 0 or "Signature #1:" not in output:
        raise AssertionError(f"pdfsig failed ({result.returncode}):\n{output}\n{result.stderr}")
    signatures = [
        _pdfsig_block(block) for block in re.split(r"^Signature #\d+:$", output, flags=re.M)[1:]
    ]
    for number, sig in enumerate(signatures, start=1):
        if sig["is_document_timestamp"]:
            continue
        if sig["signature_validation"] != "Signature is Valid.":
            raise AssertionError(f"pdfsig: signature #{number} {sig['field_name']}:\n{output}")
    return signatures


def _pdfsig_block(block: str) -> dict[str, Any]:
    fields: dict[str, str] = {}
    flags: list[str] = []
    for line in block.splitlines():
        line = line.strip()
        if not line.startswith("- "):
            continue
        key, sep, value = line[2:].partition(": ")
        if sep:
            fields[key] = value
        else:
            flags.append(line[2:])
    return {
        "field_name": fields.get("Signature Field Name"),
        "signer": fields.get("Signer Certificate Common Name"),
        "signing_time": fields.get("Signing Time"),
        "hash": fields.get("Signing Hash Algorithm"),
        "type": fields.get("Signature Type"),
        "ranges": fields.get("Signed Ranges"),
        "total_document_signed": "Total document signed" in flags,
        "signature_validation": fields.get("Signature Validation"),
        "certificate_validation": fields.get("Certificate Validation"),
        # pdfsig has no name for the RFC 3161 subfilter: it prints "unknown".
        "is_document_timestamp": fields.get("Signature Type") == "unknown",
        "raw": fields,
    }


def openssl_verify_timestamps(
    pdf: bytes, root: bytes | str | Path, tsa_cert: bytes | str | Path
) -> int:
    """``openssl ts -verify`` every timestamp token in ``pdf``; return how many verified.

    Signature timestamps stamp the CMS signature value (RFC 3161 appendix A); document
    timestamps stamp the bytes their /ByteRange covers. ``root`` and ``tsa_cert``: PEM or DER
    bytes, or a path to either.
    """
    tokens = list(_timestamp_tokens(pdf))
    if not tokens:
        raise AssertionError("no timestamp token in the document")
    with tempfile.TemporaryDirectory(prefix="ts-verify-") as tmp:
        root_path = Path(tmp) / "root.pem"
        root_path.write_bytes(_pem(_read(root)))
        tsa_path = Path(tmp) / "tsa.pem"
        tsa_path.write_bytes(_pem(_read(tsa_cert)))
        for number, (where, token, data) in enumerate(tokens):
            token_path = Path(tmp) / f"token{number}.der"
            data_path = Path(tmp) / f"data{number}.bin"
            token_path.write_bytes(token)
            data_path.write_bytes(data)
            result = subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-verify",
                    "-token_in",
                    "-in",
                    str(token_path),
                    "-data",
                    str(data_path),
                    "-CAfile",
                    str(root_path),
                    "-untrusted",
                    str(tsa_path),
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if result.returncode != 0 or "Verification: OK" not in result.stdout:
                raise AssertionError(
                    f"openssl ts -verify failed for {where}:\n{result.stdout}\n{result.stderr}"
                )
    return len(tokens)


def _timestamp_tokens(pdf: bytes):
    """(where, token DER, stamped data) for every signature and document timestamp."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for field in doc.Root.AcroForm.Fields:
            value = field.get("/V")
            if value is None or field.get("/FT") != "/Sig":
                continue
            name = str(field.get("/T"))
            contents = bytes(value.Contents)
            if str(value.get("/SubFilter")) == _DOC_TIMESTAMP_SUBFILTER:
                token = cms.ContentInfo.load(contents).dump()
                start1, len1, start2, len2 = (int(x) for x in value.ByteRange)
                data = pdf[start1 : start1 + len1] + pdf[start2 : start2 + len2]
                yield f"document timestamp {name}", token, data
                continue
            signer_info = cms.ContentInfo.load(contents)["content"]["signer_infos"][0]
            for attribute in signer_info["unsigned_attrs"]:
                if attribute["type"].dotted == _SIGNATURE_TIMESTAMP_OID:
                    for token in attribute["values"]:
                        yield (
                            f"signature timestamp of {name}",
                            token.dump(),
                            signer_info["signature"].native,
                        )


def qpdf_check(pdf: bytes) -> str:
    """``qpdf --check``: exit 0 and no warning. Returns qpdf's report."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        result = subprocess.run(
            ["qpdf", "--check", handle.name], capture_output=True, text=True, timeout=120
        )
    output = result.stdout + result.stderr
    if result.returncode != 0 or "WARNING" in output.upper():
        raise AssertionError(f"qpdf --check ({result.returncode}):\n{output}")
    return output


def _read(value: bytes | str | Path) -> bytes:
    return value if isinstance(value, bytes) else Path(value).read_bytes()


def _pem(data: bytes) -> bytes:
    if pem.detect(data):
        return data
    return pem.armor("CERTIFICATE", asn1_x509.Certificate.load(data).dump())


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}")


def timestamp_signers(pdf: bytes) -> list[tuple[str, str]]:
    """(where, common name of the certificate that signed it) for every timestamp token in
    ``pdf`` (signature timestamps and document timestamps), read with pikepdf and asn1crypto."""
    found = []
    for where, token_der, _data in _timestamp_tokens(pdf):
        signed_data = cms.ContentInfo.load(token_der)["content"]
        sid = signed_data["signer_infos"][0]["sid"]
        for choice in signed_data["certificates"]:
            cert = choice.chosen
            if (
                sid.name == "issuer_and_serial_number"
                and cert.issuer == sid.chosen["issuer"]
                and cert.serial_number == sid.chosen["serial_number"].native
            ) or (sid.name == "subject_key_identifier" and cert.key_identifier == sid.native):
                found.append((where, str(cert.subject.native["common_name"])))
                break
        else:
            found.append((where, "?"))
    return found


def signatures_without_timestamp(pdf: bytes) -> list[str]:
    """The fields of the signatures in ``pdf`` (document timestamps aside) that carry no
    RFC 3161 signature timestamp: keiyaku must never store one."""
    missing = []
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for field in doc.Root.AcroForm.Fields if "/AcroForm" in doc.Root else []:
            value = field.get("/V")
            if value is None or field.get("/FT") != "/Sig":
                continue
            if str(value.get("/SubFilter")) == _DOC_TIMESTAMP_SUBFILTER:
                continue
            signer_info = cms.ContentInfo.load(bytes(value.Contents))["content"]["signer_infos"][0]
            if not any(
                attribute["type"].dotted == _SIGNATURE_TIMESTAMP_OID
                for attribute in signer_info["unsigned_attrs"] or []
            ):
                missing.append(str(field.get("/T")))
    return missing
