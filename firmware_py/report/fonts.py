"""Fonts for the reports: a CJK font for Chinese (Debian fonts-wqy-microhei or fonts-noto-cjk),
DejaVu Sans (shipped inside matplotlib) for English."""
from __future__ import annotations

import os

from ..errors import GuardroomError

CJK_FONTS = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "WenQuanYi Micro Hei"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "Noto Sans CJK JP"),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "WenQuanYi Zen Hei"),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", "Droid Sans Fallback"),
)


def font_for(lang: str) -> tuple[str, str, str]:
    """(regular file, bold file, family name) for ``lang``."""
    if lang == "zh":
        extra = os.environ.get("GUARDROOM_CJK_FONT", "")
        for path, name in ((extra, ""),) + CJK_FONTS if extra else CJK_FONTS:
            if path and os.path.exists(path):
                if not name:
                    name = _family(path)
                return path, path, name
        raise GuardroomError("a Chinese report needs a CJK font: apt-get install "
                             "fonts-wqy-microhei (or set GUARDROOM_CJK_FONT to a .ttf/.ttc)")
    import matplotlib

    d = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return os.path.join(d, "DejaVuSans.ttf"), os.path.join(d, "DejaVuSans-Bold.ttf"), "DejaVu Sans"


def _family(path: str) -> str:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(path)
    return font_manager.FontProperties(fname=path).get_name()
