"""QĐ 766/QĐ-TTg satisfaction score: pure formulas (formulas.py) and the service that counts (service.py)."""
