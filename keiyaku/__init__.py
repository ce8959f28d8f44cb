"""keiyaku: an electronic-contract service of the witness type (立会人型)."""
