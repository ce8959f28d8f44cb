"""A counterparty's free account (R3): one list of every contract an e-mail address signed here.

Nothing of it is visible to an organisation; see docs/architecture.md, "A counterparty's free
account".
"""
