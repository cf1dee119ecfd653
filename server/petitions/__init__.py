"""Petitions (phản ánh, kiến nghị): cases a unit must answer within its working days (issue 15)."""
