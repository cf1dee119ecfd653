"""Monthly, quarterly and yearly exports of a unit's figures: CSV for machines, XLSX for people, PDF for print."""
