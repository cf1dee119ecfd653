"""QR codes of rating links, as PNG and SVG, sized to print on an 80 mm thermal receipt.

Error correction is level Q (about 25 % of the symbol recoverable) rather than M (15 %): appointment slips are
thermal paper that fades, smudges and gets folded in wallets for weeks before the citizen scans it. With a
12-character token a typical link (`https://hailong.daklak.gov.vn/r/` + token, 44 bytes) fits version 4 at
level Q (33 × 33 modules, 41 with the quiet zone) against version 3 at M: one version larger, and the 44 mm the
80 mm slip gives the code still makes modules of about 1 mm (0.9 mm for a 55-byte link at version 5), well
above what phone cameras need. The 4-module quiet zone is kept, as the standard requires.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathFillImage

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_Q
QUIET_ZONE = 4
PNG_MODULE_PIXELS = 8
SVG_MODULE_MM = 1  # 41 modules ≈ 41 mm at natural size; pages scale it with CSS


def _code(data: str, box_size: int) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECTION, border=QUIET_ZONE, box_size=box_size)
    code.add_data(data)
    code.make(fit=True)
    return code


def qr_png(data: str) -> bytes:
    """A black-on-white 1-bit PNG of `data`."""
    image = _code(data, PNG_MODULE_PIXELS).make_image(image_factory=PilImage)
    out = io.BytesIO()
    image.save(out, kind="PNG")
    return out.getvalue()


def qr_svg(data: str) -> bytes:
    """A standalone SVG of `data`: one path on a white background, sized in millimetres, scalable."""
    image = _code(data, SVG_MODULE_MM * 10).make_image(image_factory=SvgPathFillImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def qr_version(data: str) -> int:
    """The QR version (size) that `data` needs at the chosen error-correction level."""
    return int(_code(data, 1).version)
