"""The phone rating page: `/r/<token>` from the QR code on the appointment slip, no login, light and accessible."""
