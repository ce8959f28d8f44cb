"""Every state change of a contract goes through these functions (the state machine).

drafting: create, documents, parties, send.
agreement: what a party does from its link: access code, agree, reject, forward.
progress: the background side: apply signatures, finalize, sweep.
routing: steps, parallel groups and who is asked next.
followup: the sender's work after sending: cancel, remind, deadlines, unlock, re-address.
"""

from keiyaku.contracts.services.agreement import (
    party_agree,
    party_forward,
    party_reject,
    party_verify_access_code,
    party_view,
)
from keiyaku.contracts.services.drafting import (
    contract_create,
    contract_send,
    document_add,
    document_remove,
    party_add,
    party_move,
    party_remove,
    party_set_parallel,
)
from keiyaku.contracts.services.followup import (
    contract_cancel,
    contract_deadline_change,
    contract_remind,
    deadlines_check,
    party_change_email,
    party_unlock,
)
from keiyaku.contracts.services.progress import (
    contract_finalize,
    signature_apply,
    signature_sweep,
)
from keiyaku.contracts.services.templates import SlotFill, template_apply, template_save

__all__ = [
    "SlotFill",
    "template_apply",
    "template_save",
    "contract_cancel",
    "contract_create",
    "contract_deadline_change",
    "contract_remind",
    "deadlines_check",
    "party_change_email",
    "party_set_parallel",
    "party_unlock",
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
    "party_view",
    "signature_apply",
    "signature_sweep",
]
