"""Import of a contract concluded elsewhere, on paper or in another service (R30, R40).

The file is checked and stored as it came by `contracts.services.importing.contracts_import`
(only a sender or an admin imports; a sender only into their own department), and a document
timestamp is appended in the background, as for an import on the screens.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import File, Form, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from keiyaku.api.common import ERRORS, actor, department_in, metadata_of, uploads_of
from keiyaku.api.contracts import contract_details, contract_out
from keiyaku.api.gate import api_meta
from keiyaku.api.schemas import ContractOut, ImportIn
from keiyaku.contracts.errors import ContractError
from keiyaku.contracts.services.importing import (
    ImportFile,
    ImportItem,
    ImportMetadata,
    contracts_import,
)

router = Router(tags=["import"])


def _metadata(request: HttpRequest, text: str) -> ImportMetadata:
    details = metadata_of(ImportIn, text)
    department = None
    if details.department_id is not None:
        department = department_in(request, details.department_id)
        if department is None:
            raise ContractError(
                _("所属が正しくありません。"), code="department", field="department_id"
            )
    return ImportMetadata(department=department, **contract_details(details))


@router.post(
    "/import",
    response={201: ContractOut, **ERRORS},
    summary="Import a contract concluded elsewhere (multipart: metadata and files)",
)
def contract_import(
    request: HttpRequest,
    metadata: Form[str],  # type: ignore[type-arg]
    files: File[list[UploadedFile]],  # type: ignore[type-arg]
):
    """``metadata``: the contract's details as JSON (`ImportIn`); ``files``: its PDFs as
    concluded. The contract is created completed (``imported``), the files kept exactly as
    they came, a document timestamp appended to each in the background (R30)."""
    item = ImportItem(
        metadata=_metadata(request, metadata),
        files=[ImportFile(filename=u.filename, data=u.data) for u in uploads_of(files)],
    )
    (made,) = contracts_import(actor=actor(request), items=[item], meta=api_meta(request))
    return Status(201, contract_out(made))
