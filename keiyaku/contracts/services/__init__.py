"""Every state change of a contract goes through these functions (the state machine).

drafting: create, documents, parties, send.
agreement: what a party does from its link: access code, agree, reject, forward.
progress: the background side: apply signatures, advance the routing, finalize, sweep.
"""

from keiyaku.contracts.services.agreement import (
    party_agree,
    party_forward,
    party_reject,
    party_verify_access_code,
)
from keiyaku.contracts.services.drafting import (
    contract_create,
    contract_send,
    document_add,
    document_remove,
    party_add,
    party_move,
    party_remove,
)
from keiyaku.contracts.services.progress import (
    contract_finalize,
    signature_apply,
    signature_sweep,
)

__all__ = [
    "contract_create",
    "contract_finalize",
    "contract_send",
    "document_add",
    "document_remove",
    "party_add",
    "party_agree",
    "party_forward",
    "party_move",
    "party_reject",
    "party_remove",
    "party_verify_access_code",
    "signature_apply",
    "signature_sweep",
]
