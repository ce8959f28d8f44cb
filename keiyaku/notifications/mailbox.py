"""An e-mail back end that keeps messages in the database, for the mailbox page and tests.

`keiyaku.notifications.services.mail_connection` opens it with the organisation (and contract)
the message concerns, so the mailbox shows each message only to those allowed to read it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage

from keiyaku.notifications.models import CapturedAttachment, CapturedMail


class CaptureBackend(BaseEmailBackend):
    def __init__(self, *, organisation: Any = None, contract: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.organisation = organisation
        self.contract = contract

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for message in email_messages:
            mail = CapturedMail.objects.create(
                organisation=self.organisation,
                contract=self.contract,
                to=", ".join(message.to),
                subject=str(message.subject),
                body=str(message.body),
                html=next(
                    (
                        str(content)
                        for content, mimetype in getattr(message, "alternatives", [])
                        if mimetype == "text/html"
                    ),
                    "",
                ),
            )
            for attachment in message.attachments:
                filename, content, mimetype = attachment
                if isinstance(content, str):
                    content = content.encode()
                CapturedAttachment.objects.create(
                    mail=mail,
                    filename=filename or "",
                    content_type=mimetype or "application/octet-stream",
                    content=content,
                )
        return len(email_messages)
