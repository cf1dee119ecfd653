"""The officers' yearly appraisal: fair per-officer figures, doubtful ratings apart (issue 18)."""
