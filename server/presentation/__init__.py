"""Presentation shared by every surface (dashboard, exports, public pages): number, date and period formats in
Vietnamese and English, and the server-side SVG charts. No surface owns it; none of it reads the database."""
