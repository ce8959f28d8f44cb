"""keiyaku's REST API (R40): tokens per organisation and the endpoints under ``/api/v1``."""
