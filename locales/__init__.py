"""The gettext catalogs (`*/LC_MESSAGES/messages.po`), a package only so that they ship in the wheel.

The bot compiles the `.po` files when it starts (`bot/rendering.py`), so no compiled `.mo` is committed and
a new babel release cannot make a committed file differ from a fresh compile.
"""

from pathlib import Path

LOCALES_DIR = Path(__file__).resolve().parent
